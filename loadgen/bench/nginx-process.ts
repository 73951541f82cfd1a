/**
 * nginx as the reference reverse proxy: installed from Debian if missing, run
 * in the foreground with its own config in a temp dir, stopped with the bench.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildRegistry, ManagedChild } from './child-processes.js';
import { ensureDebianTool, findTool } from './debian-tool.js';

export interface NginxConfigOptions {
  /** Directory for the pid file, error log and nginx's temp paths. */
  readonly dir: string;
  readonly port: number;
  readonly upstreamPort: number;
  /** A count, or 'auto' (one per core). */
  readonly workers: number | 'auto';
  /** TLS on the listener (TLS 1.2 and 1.3, as the gateway), with HTTP/2 offered by ALPN when `http2`. */
  readonly tls?: NginxTls;
}

export interface NginxTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly http2: boolean;
}

/** The listen line and, with TLS, the certificate directives (`listen ... ssl http2`: nginx 1.22 has no `http2 on`). */
function listenDirectives(o: NginxConfigOptions): string {
  const address = `127.0.0.1:${o.port}`;
  if (o.tls === undefined) return `    listen ${address};`;
  return [
    `    listen ${address} ssl${o.tls.http2 ? ' http2' : ''};`,
    `    ssl_certificate ${o.tls.certFile};`,
    `    ssl_certificate_key ${o.tls.keyFile};`,
    '    ssl_protocols TLSv1.2 TLSv1.3;',
    '    ssl_session_cache shared:bench_tls:1m;',
  ].join('\n');
}

/** The nginx.conf for one bench instance. */
export function renderNginxConfig(o: NginxConfigOptions): string {
  const d = o.dir;
  return `worker_processes ${o.workers};
daemon off;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${d}/client_body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  # nginx closes a client connection after 1000 requests by default; node's server never does.
  keepalive_requests 10000000;
  keepalive_timeout 65s;
  upstream bench_upstream {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
${listenDirectives(o)}
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Where Debian and source builds put nginx when sbin is not on PATH. */
const NGINX_DIRS: readonly string[] = ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];

/** Path of the nginx binary, if there is one. */
export function findNginx(): string | undefined {
  return findTool('nginx', NGINX_DIRS);
}

/** Finds nginx, installing Debian's package (apt-get update once if needed) when it is missing. */
export function ensureNginx(log: (line: string) => void): string {
  return ensureDebianTool('nginx', 'nginx', log, NGINX_DIRS);
}

/** "1.22.1" from `nginx -v` (which prints to stderr). */
export function nginxVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  const m = /nginx\/(\S+)/.exec(`${r.stderr}${r.stdout}`);
  return m?.[1] ?? 'unknown';
}

/** A port that was free a moment ago (nginx cannot report a port-0 bind back to us). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface NginxInstance {
  readonly url: string;
  readonly port: number;
  /** The master process; workers are its children. */
  readonly pid: number;
  readonly workers: number | 'auto';
  stop(): Promise<void>;
}

/** Starts one foreground nginx in front of the upstream and waits until its port accepts connections. */
export async function startNginx(
  registry: ChildRegistry,
  bin: string,
  upstreamPort: number,
  workers: number | 'auto',
  tls?: NginxTls,
  timeoutMs = 10_000,
): Promise<NginxInstance> {
  const dir = mkdtempSync(join(tmpdir(), `bench-nginx-${workers}-`));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, renderNginxConfig({ dir, port, upstreamPort, workers, ...(tls === undefined ? {} : { tls }) }));
  const child: ManagedChild = registry.spawn(`nginx(${workers})`, bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')]);
  // However the bench ends (stop(), an error, Ctrl-C), the temp dir goes with the process.
  child.proc.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const stop = (): Promise<void> => child.stop();
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (child.proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx(${workers}) did not start on port ${port}: ${child.stderrTail() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, port, pid: child.proc.pid ?? -1, workers, stop };
}
