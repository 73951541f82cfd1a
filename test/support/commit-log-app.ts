/**
 * An app server for safety checks that records what it committed, not what
 * it answered: a write (any method but GET/HEAD) to /kv/<id> commits
 * `x-model-commit-ms` (default 0) after its whole body arrived, whether or
 * not anyone still waits for the answer, and only then answers 200. A body
 * that never arrives whole is never committed. Commits are stamped from a
 * sequence shared with the rest of the test, so that "before" and "after"
 * mean one order for every server and the control plane in the process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One total order for everything the test records (one process, so a counter is a clock). */
export class SequenceClock {
  private last = 0;
  next(): number {
    this.last += 1;
    return this.last;
  }
}

export interface Commit {
  readonly writeId: string;
  readonly side: string;
  readonly seq: number;
}

export interface CommitLogApp {
  readonly url: string;
  readonly side: string;
  readonly commits: readonly Commit[];
  /** Writes whose body did not arrive whole (never committed). */
  readonly incomplete: number;
  close(): Promise<void>;
}

/**
 * Longest commit delay a request may ask for: the app's own request timeout of the safety
 * argument, so the model's timings (TIMING in handover-system.ts) keep it inside both
 * sessionMs − leaseMs and unknownWriteOutcomeMs.
 */
export const MAX_COMMIT_MS = 120;

export async function startCommitLogApp(side: string, clock: SequenceClock): Promise<CommitLogApp> {
  const commits: Commit[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let incomplete = 0;
  const server: Server = createServer((req, res) => {
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    req.resume();
    req.on('close', () => {
      if (write && !req.complete) incomplete += 1;
    });
    req.on('end', () => {
      if (!write) {
        res.end('ok');
        return;
      }
      const writeId = (req.url ?? '').replace(/^\/kv\//, '');
      const commitMs = Math.min(MAX_COMMIT_MS, Number(req.headers['x-model-commit-ms'] ?? 0) || 0);
      const timer = setTimeout(() => {
        timers.delete(timer);
        commits.push({ writeId, side, seq: clock.next() });
        if (!res.destroyed) res.end('committed');
      }, commitMs);
      timers.add(timer);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    side,
    commits,
    get incomplete() {
      return incomplete;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}
