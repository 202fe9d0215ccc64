#!/usr/bin/env node
// Launcher for `driftline` (package.json "bin"). Runs the TypeScript sources through tsx, so there
// is no build step between editing and running. A production install may run the compiled
// dist/bin/driftline.js directly (npm run build); see docs/operations.md.
import { register } from 'tsx/esm/api';

register();
await import('./driftline.ts');
