/**
 * The entry point of a worker process of a multi-worker gateway (`workers` > 1). The primary
 * (gateway/workers/worker-pool.ts) forks it with an IPC channel; everything it runs comes over it.
 */
import { WorkerRuntime } from './worker-runtime.js';

if (process.send === undefined) {
  process.stderr.write('northwest gateway worker: started without an IPC channel; the primary starts workers (config `workers`)\n');
  process.exit(2);
}
const send = process.send.bind(process);
new WorkerRuntime({ send: (message, callback) => send(message, undefined, {}, callback) }).run();
