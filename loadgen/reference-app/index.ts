export type { KvEntry, KvStore } from './kv-store.js';
export { MemoryStore } from './memory-store.js';
export {
  startReferenceApp,
  MAX_BODY_BYTES,
  MAX_KEY_LENGTH,
  REFERENCE_APP_ERRORS,
  type ReferenceApp,
  type ReferenceAppOptions,
  type ReferenceAppErrorCode,
} from './reference-app.js';
