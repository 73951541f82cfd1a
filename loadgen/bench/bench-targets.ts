import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { TargetId } from './bench-report.js';
import { GET_REPLY_BYTES, POST_BODY_BYTES, postReply, WORKLOADS } from './bench-workloads.js';
import { waitForReadyLine, type ChildRegistry, type ManagedChild } from './child-processes.js';
import { buildCompiledGateway } from './compiled-gateway.js';
import { startNginx } from './nginx-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Something the load generator aims at. */
export interface Target {
  readonly id: TargetId;
  readonly url: string;
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
): Promise<StartedChild> {
  const script = checkout === undefined ? join(HERE, 'gateway-process.ts') : join(checkout, 'loadgen', 'bench', 'gateway-process.ts');
  const child = registry.spawnTs(
    `gateway-${engine}${checkout === undefined ? '' : '-baseline'}`,
    script,
    ['--upstream', upstreamUrl, '--engine', engine],
    nodeFlags,
  );
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

/** The esbuild bundle of gateway-process.ts under plain node (no tsx loader). */
async function startCompiledGateway(registry: ChildRegistry, upstreamUrl: string, nodeFlags: readonly string[]): Promise<StartedChild> {
  const bundle = await buildCompiledGateway();
  const child = registry.spawn('gateway-raw-compiled', process.execPath, [
    ...nodeFlags,
    bundle,
    '--upstream',
    upstreamUrl,
    '--engine',
    'raw',
  ]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

async function startFloor(registry: ChildRegistry, upstreamUrl: string): Promise<StartedChild> {
  const child = registry.spawnTs('floor', join(HERE, 'floor-proxy.ts'), ['--upstream', upstreamUrl]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

async function startTcpPipe(registry: ChildRegistry, upstreamUrl: string): Promise<StartedChild> {
  const child = registry.spawnTs('tcp-pipe', join(HERE, 'tcp-pipe.ts'), ['--upstream', upstreamUrl]);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

function fromChild(id: TargetId, c: StartedChild): Target {
  return { id, url: c.url, pid: c.pid, stop: () => c.child.stop() };
}

async function startTarget(
  id: Exclude<TargetId, 'direct'>,
  registry: ChildRegistry,
  nginxBin: string,
  upstream: StartedChild,
  baselineDir: string | undefined,
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
    case 'tcp-pipe':
      return fromChild(id, await startTcpPipe(registry, upstream.url));
    case 'nginx-1w':
    case 'nginx-auto': {
      const n = await startNginx(registry, nginxBin, upstream.port, id === 'nginx-1w' ? 1 : 'auto');
      return { id, url: n.url, pid: n.pid, stop: n.stop };
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
): Promise<Target[]> {
  const targets: Target[] = [{ id: 'direct', url: upstream.url, pid: upstream.pid, stop: () => upstream.child.stop() }];
  for (const id of ids) if (id !== 'direct') targets.push(await startTarget(id, registry, nginxBin, upstream, baselineDir));
  return targets;
}

/** One request per workload through the target; throws unless the upstream's reply comes back intact. */
export async function smokeCheck(target: Target): Promise<void> {
  for (const w of WORKLOADS) {
    const res = await request(target.url + w.path, { method: w.method, headers: w.headers, body: w.body ?? null });
    const body = await res.body.text();
    const expected = w.method === 'GET' ? 'a'.repeat(GET_REPLY_BYTES) : postReply(POST_BODY_BYTES);
    if (res.statusCode !== 200 || body !== expected) {
      throw new Error(`${target.id}: ${w.method} ${w.path} gave ${res.statusCode} with ${body.length} bytes (${body.slice(0, 120)})`);
    }
  }
}
