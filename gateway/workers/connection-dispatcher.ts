import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/config-schema.js';
import type { ListenerAddress } from '../listener-address.js';
import type { Logger } from '../../platform/logger.js';
import type { WorkerProcess } from './worker-process.js';

/** Connections kept while no worker serves (all of them restarting), at most. */
const MAX_WAITING = 1024;

interface Waiting {
  readonly listener: number;
  readonly socket: Socket;
  readonly timer: NodeJS.Timeout;
}

export interface ConnectionDispatcherOptions {
  readonly listeners: readonly ListenerConfig[];
  /** The worker to give the next connection to; undefined while none serves. */
  readonly next: () => WorkerProcess | undefined;
  /** How long a connection may wait for a worker to serve before it is closed. */
  readonly waitMs: number;
  readonly logger: Logger;
  /** A connection was closed unserved: no worker served within waitMs, or too many waited. */
  readonly onDropped: () => void;
}

/**
 * The listeners of a multi-worker gateway. The primary accepts each connection (paused: it reads
 * nothing of it) and passes its socket to a serving worker, round robin, as node:cluster does by
 * default on Linux. It is done here rather than by cluster because (1) only a worker that has said
 * `serving` (its states applied) is given connections, where cluster gives them to any worker that
 * called listen(); (2) cluster shares a listener among the workers of a process by address, port
 * and listen order, so two gateways in one process listening on port 0 would share one port; here
 * each listener binds once, in the primary, and port 0 is a port of its own. SO_REUSEPORT
 * (net.Server `reusePort`) was the other way: no hop through the primary, but the kernel resets
 * the connections queued on the socket of a worker that dies, and a worker could only be kept out
 * of rotation by not binding at all. TLS is terminated in the workers (the primary passes bytes
 * it never read), so TLS and HTTP/2 listeners need nothing more.
 */
export class ConnectionDispatcher {
  private readonly servers: Server[] = [];
  private readonly waiting: Waiting[] = [];
  private closed = false;

  constructor(private readonly opts: ConnectionDispatcherOptions) {}

  /** Binds every listener; resolves with where each listens (port 0 resolved). */
  async listen(): Promise<ListenerAddress[]> {
    const addresses: ListenerAddress[] = [];
    for (const [i, l] of this.opts.listeners.entries()) {
      const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accepted(i, socket));
      this.servers.push(server);
      addresses.push(
        await new Promise<ListenerAddress>((resolve, reject) => {
          server.once('error', reject);
          server.listen(l.port, l.host, () => {
            server.off('error', reject);
            const a = server.address() as AddressInfo;
            const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
            resolve({ host: a.address, port: a.port, url: `${l.tls ? 'https' : 'http'}://${host}:${a.port}` });
          });
        }),
      );
    }
    return addresses;
  }

  private accepted(listener: number, socket: Socket): void {
    // A reset while it waits, or while its handle is on its way, is the worker's or nobody's to report.
    socket.on('error', () => undefined);
    if (this.closed) return void socket.destroy();
    if (this.waiting.length === 0 && this.pass(listener, socket)) return;
    if (this.waiting.length >= MAX_WAITING) {
      this.drop(socket);
      return;
    }
    const timer = setTimeout(() => {
      const at = this.waiting.findIndex((w) => w.socket === socket);
      if (at >= 0) this.waiting.splice(at, 1);
      this.drop(socket);
    }, this.opts.waitMs);
    this.waiting.push({ listener, socket, timer });
  }

  private drop(socket: Socket): void {
    this.opts.onDropped();
    this.opts.logger.warn('gateway.workers.connection_dropped', {
      code: 'NW_GW_NO_WORKER',
      message: `no worker served within ${this.opts.waitMs} ms`,
    });
    socket.destroy();
  }

  /** Gives the socket to the next serving worker; false when none serves. */
  private pass(listener: number, socket: Socket): boolean {
    const worker = this.opts.next();
    if (worker === undefined) return false;
    // The handle is closed here once it is sent (keepOpen false); if the worker is gone meanwhile, the client sees a reset.
    worker.post({ t: 'connection', listener }, socket, (err) => {
      if (err) socket.destroy();
    });
    return true;
  }

  /** A worker started serving: connections that waited for one go now. */
  flush(): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0]!;
      if (!this.pass(w.listener, w.socket)) return;
      this.waiting.shift();
      clearTimeout(w.timer);
    }
  }

  /**
   * Stops accepting (each listening socket closes at once); connections still waiting are closed.
   * Not awaited: a server whose sockets went to workers emits 'close' only once every worker closed
   * them, which they do as they drain, after this.
   */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.socket.destroy();
    }
    for (const s of this.servers) s.close();
  }
}
