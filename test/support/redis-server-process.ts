// Redis servers of a test's own, for tests that change replication roles or stop a server: the shared
// n1/n2 instances of scripts/services.sh are used by other engineers' tests and must keep their roles.
// The same binary as services.sh (`redis-server` on PATH, the distribution's package), or NW_REDIS_SERVER.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';

const REDIS_SERVER = process.env.NW_REDIS_SERVER ?? 'redis-server';

/** A free loopback port: bind port 0, read what the kernel gave, close (redis-server --port 0 means "no TCP"). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface RedisServerOptions {
  /** For the directory and log names. */
  readonly name: string;
  /** Extra `--option value` pairs (e.g. an ACL user, TLS files). */
  readonly args?: readonly string[];
  /** Also listen with TLS on a port of its own (then `tlsPort` is set); files are passed in `args`. */
  readonly tls?: boolean;
}

export interface RedisServerProcess {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tlsPort: number | undefined;
  readonly pid: number;
  readonly dir: string;
  /** A new connected client (closed by `stop`). */
  client(): Promise<Redis>;
  /** SIGKILL and wait for the exit: the data is gone (no persistence), as after a crash. */
  kill(): Promise<void>;
  /** Starts the server again on the same ports (after `kill`), empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server neither answers nor replicates while paused. */
  pause(): void;
  resume(): void;
  /** Ends the process (resumed first) and removes its directory. */
  stop(): Promise<void>;
}

async function exitOf(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts `redis-server` on free loopback ports, without persistence, and waits until it answers PING. */
export async function startRedisServer(opts: RedisServerOptions): Promise<RedisServerProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), `nw-redis-${opts.name}-`));
  const clients: Redis[] = [];
  let port = 0;
  let tlsPort: number | undefined;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
      ...['--logfile', path.join(dir, 'redis.log'), '--protected-mode', 'yes'],
      // Full syncs start at once (the default waits 5 s for more replicas to share a diskless transfer).
      ...['--repl-diskless-sync-delay', '0'],
      ...(tlsPort === undefined ? [] : ['--tls-port', String(tlsPort)]),
      ...(opts.args ?? []),
    ];
    const started = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child = started;
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await eventually(
        async () => {
          if (started.exitCode !== null) throw new Error(`redis-server exited ${started.exitCode}: ${stderr}`);
          if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect());
          return (await probe.ping()) === 'PONG';
        },
        { timeoutMs: 10_000, intervalMs: 50, message: `redis-server ${opts.name} on port ${port} answers PING` },
      );
    } finally {
      probe.disconnect();
    }
  };

  // A port taken between the probe and the server's bind makes it exit: try another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    tlsPort = opts.tls ? await freePort() : undefined;
    try {
      await launch();
      break;
    } catch (err) {
      if (child) await exitOf(child, 'SIGKILL', 1000);
      if (attempt >= 3) throw err;
    }
  }

  const proc: RedisServerProcess = {
    name: opts.name,
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get tlsPort() {
      return tlsPort;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    async client() {
      const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    async kill() {
      if (child) await exitOf(child, 'SIGKILL', 1000);
    },
    async restart() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error(`${opts.name} is still running`);
      await launch();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      for (const c of clients.splice(0)) c.disconnect();
      if (child) {
        child.kill('SIGCONT');
        await exitOf(child, 'SIGTERM', 5000);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return proc;
}
