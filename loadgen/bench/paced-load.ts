import { Pool, type Dispatcher } from 'undici';
import type { LoadResult } from './autocannon-run.js';
import type { ClientTls } from './bench-certificate.js';
import type { Workload } from './bench-workloads.js';
import { LatencyRecorder, type LatencySummary } from './latency-histogram.js';

export interface PacedRunOptions {
  readonly baseUrl: string;
  readonly workload: Workload;
  /** Requests per second, evenly spaced. */
  readonly rate: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Most connections the client opens; requests queue in the client beyond that. */
  readonly connections: number;
  /** An https:// target: the CA its certificate is checked against and the SNI sent. */
  readonly tls?: ClientTls;
}

export interface PacedResult extends LoadResult {
  /** Latency from the moment each request was *due* (corrected for coordinated omission). */
  readonly latencyUs: LatencySummary;
  /** Latency from the moment each request was actually handed to the client. */
  readonly serviceUs: LatencySummary;
  /**
   * How late the generator handed each request to the client after its due
   * time: its own timer slack and event-loop stalls. A large max here means
   * the run's tail is partly the generator's, not the target's.
   */
  readonly sendLateUs: LatencySummary;
}

const DRAIN_LIMIT_MS = 15_000;

type Finish = (dueAt: number, sentAt: number, measured: boolean, statusCode: number, failed: boolean) => void;

/**
 * Reads one reply with undici's core callback API and drops its body: no
 * promise, body stream or header object per request, so the generator takes
 * less of the CPU it shares with the target (a heavier client is more often
 * descheduled, and its lateness lands in every target's tail).
 */
class ReplyTimer implements Dispatcher.DispatchHandler {
  private statusCode = 0;
  private done = false;

  constructor(
    private readonly dueAt: number,
    private readonly sentAt: number,
    private readonly measured: boolean,
    private readonly finish: Finish,
  ) {}

  onConnect(): void {}

  onHeaders(statusCode: number): boolean {
    this.statusCode = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.end(false);
  }

  onError(): void {
    this.end(true);
  }

  private end(failed: boolean): void {
    if (this.done) return;
    this.done = true;
    this.finish(this.dueAt, this.sentAt, this.measured, this.statusCode, failed);
  }
}

/**
 * An open-loop load generator in the manner of wrk2: request i is due at
 * start + i / rate whether or not earlier ones have finished, and its latency
 * counts from that due time, so a stall shows up in the percentiles instead of
 * silently lowering the rate. Requests due in the same timer tick (~1 ms) go
 * out together. Only requests due after the warm-up are recorded.
 */
export async function runPaced(o: PacedRunOptions): Promise<PacedResult> {
  const w = o.workload;
  const pool = new Pool(o.baseUrl, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    ...(o.tls === undefined ? {} : { connect: { ca: o.tls.ca, servername: o.tls.servername } }),
  });
  const corrected = new LatencyRecorder();
  const service = new LatencyRecorder();
  const late = new LatencyRecorder();
  const intervalMs = 1000 / o.rate;
  const start = performance.now();
  const recordFrom = start + o.warmupS * 1000;
  const endAt = recordFrom + o.durationS * 1000;
  let next = 0;
  let outstanding = 0;
  let completed = 0;
  let errors = 0;
  let non2xx = 0;
  let firstResponseAt = Infinity;
  let lastResponseAt = 0;

  const finish = (dueAt: number, sentAt: number, measured: boolean, statusCode: number, failed: boolean): void => {
    outstanding -= 1;
    if (!measured) return;
    if (failed) {
      errors += 1;
      return;
    }
    const now = performance.now();
    completed += 1;
    firstResponseAt = Math.min(firstResponseAt, now);
    lastResponseAt = now;
    if (statusCode < 200 || statusCode >= 300) {
      non2xx += 1;
      return;
    }
    corrected.recordMs(now - dueAt);
    service.recordMs(now - sentAt);
  };

  const fire = (dueAt: number): void => {
    const measured = dueAt >= recordFrom;
    const sentAt = performance.now();
    if (measured) late.recordMs(sentAt - dueAt);
    outstanding += 1;
    pool.dispatch(
      { path: w.path, method: w.method, headers: w.headers, body: w.body ?? null },
      new ReplyTimer(dueAt, sentAt, measured, finish),
    );
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      for (let due = start + next * intervalMs; due <= now && due < endAt; due = start + next * intervalMs) {
        fire(due);
        next += 1;
      }
      const nextDue = start + next * intervalMs;
      if (nextDue >= endAt) resolve();
      else setTimeout(tick, Math.max(0, nextDue - performance.now()));
    };
    tick();
  });
  const drainDeadline = performance.now() + DRAIN_LIMIT_MS;
  while (outstanding > 0 && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 5));
  errors += outstanding;
  await pool.destroy();

  const result: PacedResult = {
    rps: completed / o.durationS,
    completed,
    errors,
    timeouts: 0,
    non2xx,
    durationS: lastResponseAt > firstResponseAt ? (lastResponseAt - firstResponseAt) / 1000 : o.durationS,
    latencyUs: corrected.summary(),
    serviceUs: service.summary(),
    sendLateUs: late.summary(),
  };
  corrected.destroy();
  service.destroy();
  late.destroy();
  return result;
}
