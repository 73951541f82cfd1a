/**
 * Upstream servers that misbehave in one specific way each, for testing how
 * the gateway maps upstream failures. All listen on 127.0.0.1 port 0 and
 * destroy every open socket on close().
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';

export interface FaultyUpstream {
  readonly url: string;
  readonly port: number;
  /** Requests that reached the server (method and path), oldest first. */
  readonly seen: Array<{ method: string; path: string }>;
  close(): Promise<void>;
}

type AnyServer = HttpServer | NetServer;

async function listenTracked(server: AnyServer, seen: FaultyUpstream['seen']): Promise<FaultyUpstream> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<FaultyUpstream> {
  const seen: FaultyUpstream['seen'] = [];
  const server = createHttpServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', path: req.url ?? '/' });
    handler(req, res);
  });
  return listenTracked(server, seen);
}

/** A port that nobody listens on: bound on port 0, then closed again. */
export async function startRefusingPort(): Promise<{ url: string; port: number }> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${port}`, port };
}

/** Accepts requests (reads their body) and never answers. */
export function startHangingServer(): Promise<FaultyUpstream> {
  return httpServer((req) => req.resume());
}

/** Answers 200 after `delayMs`; `onRequest` fires as soon as a request arrives. */
export function startSlowHeadersServer(delayMs: number, onRequest: () => void = () => undefined): Promise<FaultyUpstream> {
  return httpServer((req, res) => {
    req.resume();
    onRequest();
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('slow ok');
    }, delayMs);
    res.once('close', () => clearTimeout(timer));
  });
}

/**
 * Sends headers and a first body chunk, then stalls the body forever.
 * Requests to /ok get a complete reply, to show the server itself still works.
 */
export function startStallingBodyServer(): Promise<FaultyUpstream> {
  return httpServer((req, res) => {
    req.resume();
    if (req.url === '/ok') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write('first chunk');
  });
}

/**
 * Answers at once and sends its body in `pieces` pieces of 10 bytes, one every `everyMs`: a slow
 * body that is never silent for long.
 */
export function startTricklingBodyServer(pieces: number, everyMs: number): Promise<FaultyUpstream> {
  return httpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(pieces * 10) });
    let sent = 0;
    const timer = setInterval(() => {
      res.write('0123456789');
      sent += 1;
      if (sent === pieces) {
        clearInterval(timer);
        res.end();
      }
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  });
}

/** Accepts TCP connections and resets each one as soon as request bytes arrive. */
export function startResetServer(): Promise<FaultyUpstream> {
  const seen: FaultyUpstream['seen'] = [];
  const server = createNetServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      const [method = '', path = ''] = chunk.toString('latin1').split(' ', 2);
      seen.push({ method, path });
      socket.resetAndDestroy();
    });
    socket.on('error', () => undefined);
  });
  return listenTracked(server, seen);
}

/**
 * Accepts TCP connections and closes each one `afterMs` later without a byte: as an https:// server,
 * a connect that fails in its TLS handshake, after a while (the calls behind it wait meanwhile).
 */
export function startFailingHandshakeServer(afterMs: number): Promise<FaultyUpstream> {
  const server = createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.resume();
    setTimeout(() => socket.destroy(), afterMs);
  });
  return listenTracked(server, []);
}

export interface SwitchableHealthServer extends FaultyUpstream {
  /** Status codes returned by /healthz, oldest first. */
  readonly probes: number[];
  setHealthy(healthy: boolean): void;
}

/**
 * An app server whose /healthz answers 200 or 500 as the test says; every
 * other path answers 200 with `name` in the body and `x-served-by`.
 */
export async function startSwitchableHealthServer(name: string): Promise<SwitchableHealthServer> {
  let healthy = true;
  const probes: number[] = [];
  const base = await httpServer((req, res) => {
    req.resume();
    if (req.url === '/healthz') {
      const status = healthy ? 200 : 500;
      probes.push(status);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(healthy ? 'ok' : 'unhealthy');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name });
    res.end(name);
  });
  return {
    ...base,
    probes,
    setHealthy: (h) => {
      healthy = h;
    },
  };
}

/**
 * Answers each request with a head that does not come: `interims` > 0 sends that many 102
 * Processing replies `everyMs` apart and then a final 200 ("done"); 0 sends a status line and then
 * one header byte every `everyMs`, never ending the head (a slow loris from the app's side).
 */
export function startSlowFinalHeadServer(everyMs: number, interims: number): Promise<FaultyUpstream> {
  const seen: FaultyUpstream['seen'] = [];
  const server = createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      const [method = '', path = ''] = chunk.toString('latin1').split(' ', 2);
      seen.push({ method, path });
      if (interims === 0) socket.write('HTTP/1.1 200 OK\r\nX-Slow: ');
      let sent = 0;
      const timer = setInterval(() => {
        if (interims === 0) {
          socket.write('a');
          return;
        }
        sent += 1;
        if (sent <= interims) socket.write('HTTP/1.1 102 Processing\r\n\r\n');
        else {
          clearInterval(timer);
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone');
        }
      }, everyMs);
      socket.once('close', () => clearInterval(timer));
    });
  });
  return listenTracked(server, seen);
}
