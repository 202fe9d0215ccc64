#!/usr/bin/env node
// Launcher for `driftline` (package.json "bin"). Runs the TypeScript sources through tsx, so there
// is no build step between editing and running, and none to install: this launcher is how Driftline
// runs, on a developer's machine and in production (systemd units start `node bin/driftline.js`).
import { register } from 'tsx/esm/api';

register();
await import('./driftline.ts');
