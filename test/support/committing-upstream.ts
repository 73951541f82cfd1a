import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * How the app answers a write whose path matches a fault rule:
 * - commit-then-500: stores it, then answers 500 (it committed; the client is told it failed)
 * - commit-then-reset: stores it, then resets the connection without answering
 * - refuse-500: answers 500 without storing it (nothing committed)
 */
export type WriteFault = 'commit-then-500' | 'commit-then-reset' | 'refuse-500';

/** One write the app committed, in commit order: what it holds, whatever it answered. */
export interface Commit {
  readonly method: string;
  readonly path: string;
  readonly body: string;
  readonly requestId: string | undefined;
}

/**
 * A key-value app server (/kv/<key>: GET, PUT, POST, DELETE; 404 for a missing key) that keeps a log
 * of what it committed, so tests check what an app holds, not only what the
 * gateway answered. Writes under a path prefix can be made to fail after (or
 * instead of) committing.
 */
export interface CommittingUpstream {
  readonly url: string;
  readonly name: string;
  readonly store: Map<string, string>;
  readonly commits: Commit[];
  /** From now on, writes whose path starts with `prefix` fail this way (undefined: answer normally again). */
  failWrites(prefix: string, fault: WriteFault | undefined): void;
  /** Commits of writes to `path`. */
  committed(path: string): Commit[];
  close(): Promise<void>;
}

export async function startCommittingUpstream(name: string): Promise<CommittingUpstream> {
  const store = new Map<string, string>();
  const commits: Commit[] = [];
  const faults = new Map<string, WriteFault>();
  const faultFor = (path: string): WriteFault | undefined => {
    for (const [prefix, fault] of faults) if (path.startsWith(prefix)) return fault;
    return undefined;
  };
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  /** Answers one request: the status and body to send, or 'reset' to cut the connection. */
  const answer = (req: IncomingMessage, body: string): { status: number; body: unknown } | 'reset' => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    if (path === '/healthz') return { status: 200, body: { ok: true, name } };
    const key = /^\/kv\/([^/?]+)/.exec(path)?.[1];
    if (key === undefined) return { status: 404, body: { name } };
    if (method === 'GET' || method === 'HEAD') {
      return store.has(key) ? { status: 200, body: { key, value: store.get(key), name } } : { status: 404, body: { key, name } };
    }
    const fault = faultFor(path);
    if (fault === 'refuse-500') return { status: 500, body: { error: 'refused', name } };
    if (method === 'DELETE' && !store.has(key)) return { status: 404, body: { key, name } };
    if (method === 'DELETE') store.delete(key);
    else store.set(key, body);
    const requestId = req.headers['x-request-id'];
    commits.push({ method, path, body, requestId: typeof requestId === 'string' ? requestId : undefined });
    if (fault === 'commit-then-500') return { status: 500, body: { error: 'failed after commit', name } };
    if (fault === 'commit-then-reset') return 'reset';
    return { status: 200, body: { key, stored: true, name } };
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const a = answer(req, body);
    if (a === 'reset') req.socket.resetAndDestroy();
    else reply(res, a.status, a.body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    name,
    store,
    commits,
    failWrites: (prefix, fault) => {
      if (fault === undefined) faults.delete(prefix);
      else faults.set(prefix, fault);
    },
    committed: (path) => commits.filter((c) => c.path === path),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}
