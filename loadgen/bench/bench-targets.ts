import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { TargetId } from './bench-report.js';
import { GET_REPLY_BYTES, POST_BODY_BYTES, postReply, WORKLOADS } from './bench-workloads.js';
import { waitForReadyLine, type ChildRegistry, type ManagedChild } from './child-processes.js';
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

export type GatewayEngine = 'undici' | 'http-proxy';

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

/** A gateway child process; `nodeFlags` go before `--import tsx` (e.g. --cpu-prof). */
export async function startGateway(registry: ChildRegistry, upstreamUrl: string, engine: GatewayEngine, nodeFlags: readonly string[] = []): Promise<StartedChild> {
  const child = registry.spawnTs(`gateway-${engine}`, join(HERE, 'gateway-process.ts'), ['--upstream', upstreamUrl, '--engine', engine], nodeFlags);
  const ready = await waitForReadyLine(child);
  return { url: ready.url, port: ready.port, pid: child.proc.pid ?? -1, child };
}

/** Starts every proxy in front of the (already running) upstream; the upstream itself is target "direct". */
export async function startTargets(registry: ChildRegistry, nginxBin: string, upstream: StartedChild, nginxAuto: boolean): Promise<Target[]> {
  const targets: Target[] = [{ id: 'direct', url: upstream.url, pid: upstream.pid, stop: () => upstream.child.stop() }];
  for (const engine of ['undici', 'http-proxy'] as const) {
    const gw = await startGateway(registry, upstream.url, engine, (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter(Boolean));
    targets.push({ id: `gateway-${engine}`, url: gw.url, pid: gw.pid, stop: () => gw.child.stop() });
  }
  const n1 = await startNginx(registry, nginxBin, upstream.port, 1);
  targets.push({ id: 'nginx-1w', url: n1.url, pid: n1.pid, stop: n1.stop });
  if (nginxAuto) {
    const n2 = await startNginx(registry, nginxBin, upstream.port, 'auto');
    targets.push({ id: 'nginx-auto', url: n2.url, pid: n2.pid, stop: n2.stop });
  }
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
