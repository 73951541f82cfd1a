export { CommittedWriteError, type KvEntry, type KvStore } from './kv-store.js';
export { MemoryStore } from './memory-store.js';
export { MAX_BODY_BYTES, MAX_KEY_LENGTH, REFERENCE_APP_ERRORS, type ReferenceAppErrorCode } from './app-errors.js';
export { CommitLog, type CommitEntry } from './commit-log.js';
export { startReferenceApp, type ReferenceApp, type ReferenceAppOptions } from './reference-app.js';
