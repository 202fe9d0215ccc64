// Worker bootstrap for running from the TypeScript sources (tsx): worker threads do not inherit
// the loader registered in the main thread, so register it here, then load the real worker.
// A compiled build (npm run build) starts dist/collector/ingest/decode-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
