import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import type { BenchCertificate, ClientTls } from './bench-certificate.js';
import type { TargetId } from './bench-report.js';
import { GET_REPLY_BYTES, POST_BODY_BYTES, postReply, WORKLOADS, type Workload } from './bench-workloads.js';
import { waitForReadyLine, type ChildRegistry, type ManagedChild } from './child-processes.js';
import { buildCompiled, buildCompiledGateway } from './compiled-gateway.js';
import { h2Exchange } from './h2-load.js';
import { startNginx } from './nginx-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** What a target speaks to the load generator: plain HTTP/1.1, HTTP/1.1 over TLS 1.3, or h2 over TLS 1.3. */
export type TargetProtocol = 'http' | 'https' | 'h2';

const PROTOCOLS: Partial<Record<TargetId, TargetProtocol>> = {
  'gateway-raw-tls': 'https',
  'nginx-1w-tls': 'https',
  'gateway-h2': 'h2',
  'h2-floor': 'h2',
  'gateway-h2-compiled': 'h2',
  'h2-floor-compiled': 'h2',
  'nginx-1w-h2': 'h2',
};

export function targetProtocol(id: TargetId): TargetProtocol {
  return PROTOCOLS[id] ?? 'http';
}

/** Something the load generator aims at. */
export interface Target {
  readonly id: TargetId;
  readonly url: string;
  readonly protocol: TargetProtocol;
  /** How clients check a TLS target's certificate; set for https and h2. */
  readonly tls?: ClientTls;
  /** The process (tree) whose CPU time counts as the target's. */
  readonly pid: number;
  stop(): Promise<void>;
}

export type GatewayEngine = 'raw' | 'undici' | 'http-proxy';

export interface StartedChild {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ManagedChild;
}

export async function startUpstream(registry: ChildRegistry): Promise<StartedChild> {
  const child = registry.spawnTs('bench-upstream', join(HERE, 'bench-upstream.ts'));
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

/**
 * A gateway child process; `nodeFlags` go before `--import tsx` (e.g. --cpu-prof).
 * `checkout` runs the gateway of another source tree (target gateway-baseline).
 */
export async function startGateway(
  registry: ChildRegistry,
  upstreamUrl: string,
  engine: GatewayEngine,
  nodeFlags: readonly string[] = [],
  checkout?: string,
  tls?: { readonly cert: BenchCertificate; readonly http2: boolean },
): Promise<StartedChild> {
  const script = checkout === undefined ? join(HERE, 'gateway-process.ts') : join(checkout, 'loadgen', 'bench', 'gateway-process.ts');
  const tlsArgs =
    tls === undefined ? [] : ['--tls-cert', tls.cert.certFile, '--tls-key', tls.cert.keyFile, ...(tls.http2 ? ['--http2'] : [])];
  const child = registry.spawnTs(
    `gateway-${engine}${checkout === undefined ? '' : '-baseline'}${tls === undefined ? '' : tls.http2 ? '-h2' : '-tls'}`,
    script,
    ['--upstream', upstreamUrl, '--engine', engine, ...tlsArgs],
    nodeFlags,
  );
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

/** The esbuild bundle of gateway-process.ts under plain node (no tsx loader). */
async function startCompiledGateway(
  registry: ChildRegistry,
  upstreamUrl: string,
  nodeFlags: readonly string[],
  h2Cert?: BenchCertificate,
): Promise<StartedChild> {
  const bundle = await buildCompiledGateway();
  const h2 = h2Cert === undefined ? [] : ['--tls-cert', h2Cert.certFile, '--tls-key', h2Cert.keyFile, '--http2'];
  const child = registry.spawn(h2Cert === undefined ? 'gateway-raw-compiled' : 'gateway-h2-compiled', process.execPath, [
    ...nodeFlags,
    bundle,
    '--upstream',
    upstreamUrl,
    '--engine',
    'raw',
    ...h2,
  ]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

async function startFloor(registry: ChildRegistry, upstreamUrl: string): Promise<StartedChild> {
  const child = registry.spawnTs('floor', join(HERE, 'floor-proxy.ts'), ['--upstream', upstreamUrl]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

async function startH2Floor(registry: ChildRegistry, upstreamUrl: string, cert: BenchCertificate, compiled = false): Promise<StartedChild> {
  const args = ['--upstream', upstreamUrl, '--cert', cert.certFile, '--key', cert.keyFile];
  const child = compiled
    ? registry.spawn('h2-floor-compiled', process.execPath, [await buildCompiled('h2-floor-proxy'), ...args])
    : registry.spawnTs('h2-floor', join(HERE, 'h2-floor-proxy.ts'), args);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

/**
 * The llhttp floor (llhttp-floor-proxy.ts), bundled and run by plain node: it is compared with
 * gateway-compiled, the raw engine as deployed, so neither pays tsx's per-function costs.
 */
export async function startLlhttpFloor(registry: ChildRegistry, upstreamUrl: string): Promise<StartedChild> {
  const child = registry.spawn('llhttp-floor', process.execPath, [await buildCompiled('llhttp-floor-proxy'), '--upstream', upstreamUrl]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

async function startTcpPipe(registry: ChildRegistry, upstreamUrl: string): Promise<StartedChild> {
  const child = registry.spawnTs('tcp-pipe', join(HERE, 'tcp-pipe.ts'), ['--upstream', upstreamUrl]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

function fromChild(id: TargetId, c: StartedChild, cert?: BenchCertificate): Target {
  return withTls({ id, url: c.url, protocol: targetProtocol(id), pid: c.pid, stop: () => c.child.stop() }, cert);
}

function withTls(t: Target, cert: BenchCertificate | undefined): Target {
  return t.protocol === 'http' || cert === undefined ? t : { ...t, tls: cert.client };
}

function needCert(id: TargetId, cert: BenchCertificate | undefined): BenchCertificate {
  if (cert === undefined) throw new Error(`${id} needs the bench certificate`);
  return cert;
}

async function startTarget(
  id: Exclude<TargetId, 'direct'>,
  registry: ChildRegistry,
  nginxBin: string,
  upstream: StartedChild,
  baselineDir: string | undefined,
  cert: BenchCertificate | undefined,
): Promise<Target> {
  const gatewayFlags = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  switch (id) {
    case 'gateway-raw':
      return fromChild(id, await startGateway(registry, upstream.url, 'raw', gatewayFlags));
    case 'gateway-undici':
      return fromChild(id, await startGateway(registry, upstream.url, 'undici', gatewayFlags));
    case 'gateway-http-proxy':
      return fromChild(id, await startGateway(registry, upstream.url, 'http-proxy', gatewayFlags));
    case 'gateway-baseline':
      if (baselineDir === undefined) throw new Error('gateway-baseline needs a baseline checkout');
      return fromChild(id, await startGateway(registry, upstream.url, 'undici', gatewayFlags, baselineDir));
    case 'gateway-compiled':
      return fromChild(id, await startCompiledGateway(registry, upstream.url, gatewayFlags));
    case 'floor':
      return fromChild(id, await startFloor(registry, upstream.url));
    case 'llhttp-floor':
      return fromChild(id, await startLlhttpFloor(registry, upstream.url));
    case 'tcp-pipe':
      return fromChild(id, await startTcpPipe(registry, upstream.url));
    case 'nginx-1w':
    case 'nginx-auto': {
      const n = await startNginx(registry, nginxBin, upstream.port, id === 'nginx-1w' ? 1 : 'auto');
      return { id, url: n.url, protocol: 'http', pid: n.pid, stop: n.stop };
    }
    case 'gateway-raw-tls':
    case 'gateway-h2': {
      const tls = { cert: needCert(id, cert), http2: id === 'gateway-h2' };
      return fromChild(id, await startGateway(registry, upstream.url, 'raw', gatewayFlags, undefined, tls), cert);
    }
    case 'h2-floor':
      return fromChild(id, await startH2Floor(registry, upstream.url, needCert(id, cert)), cert);
    case 'gateway-h2-compiled':
      return fromChild(id, await startCompiledGateway(registry, upstream.url, gatewayFlags, needCert(id, cert)), cert);
    case 'h2-floor-compiled':
      return fromChild(id, await startH2Floor(registry, upstream.url, needCert(id, cert), true), cert);
    case 'nginx-1w-tls':
    case 'nginx-1w-h2': {
      const c = needCert(id, cert);
      const n = await startNginx(registry, nginxBin, upstream.port, 1, {
        certFile: c.certFile,
        keyFile: c.keyFile,
        http2: id === 'nginx-1w-h2',
      });
      return withTls({ id, url: n.url, protocol: targetProtocol(id), pid: n.pid, stop: n.stop }, c);
    }
  }
}

/** Starts the listed proxies in front of the (already running) upstream; the upstream itself is target "direct". */
export async function startTargets(
  registry: ChildRegistry,
  nginxBin: string,
  upstream: StartedChild,
  ids: readonly TargetId[],
  baselineDir?: string,
  cert?: BenchCertificate,
): Promise<Target[]> {
  const targets: Target[] = [{ id: 'direct', url: upstream.url, protocol: 'http', pid: upstream.pid, stop: () => upstream.child.stop() }];
  for (const id of ids) if (id !== 'direct') targets.push(await startTarget(id, registry, nginxBin, upstream, baselineDir, cert));
  return targets;
}

/** The TLS version a target negotiates with an HTTP/1.1 client (ALPN http/1.1), e.g. "TLSv1.3". */
function tlsVersion(url: string, tls: ClientTls): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: u.hostname,
      port: Number(u.port),
      ca: tls.ca,
      servername: tls.servername,
      ALPNProtocols: ['http/1.1'],
    });
    socket.once('secureConnect', () => {
      resolve(`${socket.getProtocol() ?? '?'} ${socket.alpnProtocol || 'no ALPN'}`);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

async function exchange(target: Target, w: Workload): Promise<{ status: number; body: string }> {
  if (target.protocol === 'h2') return h2Exchange(target.url, w, needTls(target));
  const dispatcher =
    target.tls === undefined ? undefined : new Agent({ connect: { ca: target.tls.ca, servername: target.tls.servername } });
  try {
    const res = await request(target.url + w.path, {
      method: w.method,
      headers: w.headers,
      body: w.body ?? null,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await dispatcher?.close();
  }
}

function needTls(t: Target): ClientTls {
  if (t.tls === undefined) throw new Error(`${t.id}: a TLS target without the bench CA`);
  return t.tls;
}

/**
 * One request per workload through the target; throws unless the upstream's reply comes back
 * intact, and, for a TLS target, unless it speaks TLS 1.3 (and h2 where it should). Returns what
 * was negotiated ("TLSv1.3 h2"), or undefined for plain HTTP.
 */
export async function smokeCheck(target: Target): Promise<string | undefined> {
  for (const w of WORKLOADS) {
    const { status, body } = await exchange(target, w);
    const expected = w.method === 'GET' ? 'a'.repeat(GET_REPLY_BYTES) : postReply(POST_BODY_BYTES);
    if (status !== 200 || body !== expected) {
      throw new Error(`${target.id}: ${w.method} ${w.path} gave ${status} with ${body.length} bytes (${body.slice(0, 120)})`);
    }
  }
  if (target.protocol === 'http') return undefined;
  const negotiated =
    target.protocol === 'h2'
      ? (await h2Exchange(target.url, WORKLOADS[0]!, needTls(target))).negotiated
      : await tlsVersion(target.url, needTls(target));
  if (!negotiated.startsWith('TLSv1.3 ')) throw new Error(`${target.id}: negotiated ${negotiated}, expected TLS 1.3`);
  return negotiated;
}
