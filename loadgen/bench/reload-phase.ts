/**
 * Reload under load: the gateway as operators run it (gateway/cli.ts --config FILE, an HTTPS
 * listener with the bench certificate, the raw engine) takes a fixed paced load (half GET 1 KB,
 * half POST 4 KB, every request counted) while the bench rewrites its config file and reloads
 * it N times, by SIGHUP or POST /reload. Reload i is due in the middle of the i-th interval
 * after a 1 s lead-in; the gateway's CPU is read half an interval before it, at the signal and
 * half an interval after, so each reload's CPU is the second window against the first.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { BenchCertificate } from './bench-certificate.js';
import type { BenchOptions } from './bench-options.js';
import { smokeCheck, type Target } from './bench-targets.js';
import { WORKLOADS } from './bench-workloads.js';
import type { ChildRegistry, ManagedChild } from './child-processes.js';
import { processTreeCpuMs } from './cpu-accounting.js';
import { runPaced } from './paced-load.js';
import { reloadGatewayConfig, type ReloadConfigInput } from './reload-config.js';
import { parseReloadLine, type ReloadLogEvent } from './reload-log.js';
import type { ReloadLoad, ReloadRun, ReloadSample } from './reload-report.js';

const GATEWAY_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'gateway', 'cli.ts');
const TOKEN_ENV = 'BENCH_RELOAD_ADMIN_TOKEN';
const LEAD_IN_MS = 1000;
const TAIL_MS = 1000;
/** Longest the bench waits for the gateway to say a reload applied or failed. */
const ANSWER_LIMIT_MS = 10_000;
const START_LIMIT_MS = 30_000;

export interface ReloadPhaseInput {
  readonly registry: ChildRegistry;
  readonly upstreamUrl: string;
  readonly cert: BenchCertificate;
  readonly opts: BenchOptions;
  readonly log: (line: string) => void;
}

/** The gateway CLI's reload lines for its config file, in order, as they come. */
class ReloadEvents {
  private readonly queue: ReloadLogEvent[] = [];
  private waiter: ((e: ReloadLogEvent) => void) | undefined;

  constructor(child: ManagedChild, configFile: string) {
    const stdout = child.proc.stdout;
    if (!stdout) throw new Error('reload bench: the gateway has no stdout');
    createInterface({ input: stdout }).on('line', (line) => {
      const e = parseReloadLine(line);
      if (e === undefined || (e.file !== undefined && e.file !== configFile)) return;
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(e);
      else this.queue.push(e);
    });
  }

  /** The next reload line, or undefined after `timeoutMs`. */
  next(timeoutMs: number): Promise<ReloadLogEvent | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
    });
  }
}

/** The traffic and admin URLs from the CLI's start banner (stderr); the listener and admin port are port 0. */
function waitForBanner(child: ManagedChild): Promise<{ url: string; adminUrl: string }> {
  return new Promise((resolve, reject) => {
    const stderr = child.proc.stderr;
    if (!stderr) return reject(new Error('reload bench: the gateway has no stderr'));
    let url: string | undefined;
    const lines = createInterface({ input: stderr });
    const timer = setTimeout(() => fail(`not up after ${START_LIMIT_MS} ms`), START_LIMIT_MS);
    const onExit = (): void => fail('exited before it was up');
    function fail(why: string): void {
      clearTimeout(timer);
      lines.close();
      reject(new Error(`reload bench gateway: ${why}\n${child.stderrTail()}`));
    }
    child.proc.once('exit', onExit);
    lines.on('line', (line) => {
      url ??= /traffic:\s+(https:\/\/\S+)/.exec(line)?.[1];
      const admin = /admin:\s+(http:\/\/\S+)/.exec(line)?.[1];
      if (url !== undefined && admin !== undefined) {
        clearTimeout(timer);
        child.proc.off('exit', onExit);
        lines.close();
        resolve({ url, adminUrl: admin });
      }
    });
  });
}

const sleepUntil = (at: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));

export async function runReloadPhase(input: ReloadPhaseInput): Promise<ReloadRun> {
  const { opts, log } = input;
  const dir = mkdtempSync(join(tmpdir(), 'bench-reload-'));
  const configFile = join(dir, 'gateway.json');
  const token = randomBytes(16).toString('hex');
  const configInput: ReloadConfigInput = {
    upstreamUrl: input.upstreamUrl,
    certFile: input.cert.certFile,
    keyFile: input.cert.keyFile,
    workers: opts.reloadWorkers,
    adminTokenEnv: TOKEN_ENV,
  };
  const writeStep = (step: number): void => writeFileSync(configFile, JSON.stringify(reloadGatewayConfig(step, configInput), null, 2));
  writeStep(0);
  const child = input.registry.spawnTs('gateway-reload', GATEWAY_CLI, ['--config', configFile], [], {
    ...process.env,
    [TOKEN_ENV]: token,
  });
  try {
    const events = new ReloadEvents(child, configFile);
    const { url, adminUrl } = await waitForBanner(child);
    const pid = child.proc.pid ?? -1;
    const target: Target = { id: 'gateway-raw-tls', url, protocol: 'https', tls: input.cert.client, pid, stop: () => child.stop() };
    await smokeCheck(target);
    log(
      `[reload] gateway ${url} (admin ${adminUrl}, pid ${pid}): ` +
        `${opts.reloads} reloads by ${opts.reloadVia} under ${opts.reloadRate} req/s`,
    );

    const intervalMs = opts.reloadIntervalS * 1000;
    const windowMs = intervalMs / 2;
    const durationS = (LEAD_IN_MS + opts.reloads * intervalMs + TAIL_MS) / 1000;
    const perWorkload = opts.reloadRate / WORKLOADS.length;
    const connections = Math.max(1, Math.round(opts.connections / WORKLOADS.length));
    const start = performance.now();
    const loads = WORKLOADS.map((w) =>
      runPaced({ baseUrl: url, workload: w, rate: perWorkload, warmupS: 0, durationS, connections, tls: input.cert.client }),
    );

    const reloads: ReloadSample[] = [];
    for (let i = 1; i <= opts.reloads; i++) {
      const due = start + LEAD_IN_MS + (i - 0.5) * intervalMs;
      await sleepUntil(due - windowMs);
      const cpuBefore0 = processTreeCpuMs(pid);
      writeStep(i);
      await sleepUntil(due);
      const cpu0 = processTreeCpuMs(pid);
      const signalAt = Date.now();
      const signalPerf = performance.now();
      // admin: the POST's reply says when the reload was done; sighup: the bench reading the log line.
      const replied: Promise<number | undefined> =
        opts.reloadVia === 'sighup'
          ? Promise.resolve(undefined)
          : request(`${adminUrl}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then(
              async (res) => {
                await res.body.dump();
                return res.statusCode === 200 ? performance.now() - signalPerf : undefined;
              },
              () => undefined,
            );
      if (opts.reloadVia === 'sighup') child.proc.kill('SIGHUP');
      const event = await events.next(ANSWER_LIMIT_MS);
      const readMs = performance.now() - signalPerf;
      const observedMs = opts.reloadVia === 'sighup' ? (event === undefined ? undefined : readMs) : await replied;
      await sleepUntil(due + windowMs);
      const cpu1 = processTreeCpuMs(pid);
      const sample: ReloadSample = {
        index: i,
        outcome: event?.outcome ?? 'no-answer',
        ...(event?.code === undefined ? {} : { code: event.code }),
        ...(event?.outcome === 'applied' ? { reloadMs: Math.max(0, event.atMs - signalAt) } : {}),
        ...(observedMs === undefined ? {} : { observedMs: Math.round(observedMs * 10) / 10 }),
        added: event?.added ?? [],
        changed: event?.changed ?? [],
        removed: event?.removed ?? [],
        ...(cpu0 === undefined || cpu1 === undefined ? {} : { cpuMsAfter: cpu1 - cpu0 }),
        ...(cpu0 === undefined || cpuBefore0 === undefined ? {} : { cpuMsBefore: cpu0 - cpuBefore0 }),
      };
      reloads.push(sample);
      log(
        `[reload ${i}/${opts.reloads}] ${sample.outcome}${sample.code ? ` ${sample.code}` : ''} ` +
          `in ${sample.reloadMs ?? '?'} ms (seen after ${sample.observedMs?.toFixed(1) ?? '?'} ms); ` +
          `+[${sample.added.join(',')}] ~[${sample.changed.join(',')}] -[${sample.removed.join(',')}]; ` +
          `cpu ${sample.cpuMsBefore ?? '?'} → ${sample.cpuMsAfter ?? '?'} ms per ${Math.round(windowMs)} ms`,
      );
    }
    const results = await Promise.all(loads);
    const load: ReloadLoad[] = WORKLOADS.map((w, k) => {
      const r = results[k]!;
      return {
        workload: w.name,
        label: w.label,
        rate: perWorkload,
        completed: r.completed,
        errors: r.errors,
        non2xx: r.non2xx,
        latencyUs: r.latencyUs,
      };
    });
    for (const l of load)
      log(
        `[reload] ${l.workload}: ${l.completed} completed, ${l.errors} errors, ${l.non2xx} non-2xx, ` +
          `p99 ${(l.latencyUs.p99 / 1000).toFixed(2)} ms`,
      );
    return {
      via: opts.reloadVia,
      workers: opts.reloadWorkers,
      intervalS: opts.reloadIntervalS,
      rate: opts.reloadRate,
      windowMs,
      reloads,
      load,
    };
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
