import { Pool } from 'undici';
import { z } from 'zod';
import type { Sample } from '../load-model.js';
import { attribute } from './attribute.js';
import type { UnfinishedRequest } from './closed-loop.js';
import { kvRequest, type RequestFor, type Workload } from './workload.js';

const FixedRateSchema = z
  .object({
    /** Base URL of the gateway (or app) to load. */
    target: z.url(),
    /** Host header to send; defaults to the target's host. */
    host: z.string().min(1).optional(),
    /** Requests per second, evenly spaced. */
    rate: z.number().positive().max(1_000_000),
    durationS: z.number().positive(),
    /** Most connections the client opens; requests due beyond that queue in the client. */
    connections: z.number().int().min(1).max(10_000).default(10),
    /** Per-request timeout (headers and body), seconds. */
    timeoutS: z.number().positive().default(10),
    /** After the last request is due, how long to wait for replies before giving up, seconds. */
    drainS: z.number().positive().default(15),
  })
  .strict();

export type FixedRateSettings = z.input<typeof FixedRateSchema>;

export interface FixedRateOptions extends FixedRateSettings {
  readonly workload: Workload;
  /** The request each operation becomes; default the reference app's (kvRequest). */
  readonly request?: RequestFor;
  /** Called for every sample as it is made; no-op by default. */
  readonly onSample?: (s: Sample) => void;
  /** Stops issuing requests early (before durationS); those sent are still awaited for the drain time. */
  readonly signal?: AbortSignal;
  /**
   * false: samples go to onSample only and `samples` stays empty, so a long run at a high rate
   * (a load agent's) does not hold every request in memory. Default true.
   */
  readonly keepSamples?: boolean;
}

export interface FixedRateResult {
  /** One per request; `start` is the due time, so latency includes any wait for the client or server. */
  readonly samples: Sample[];
  /** Requests not answered within the drain time. */
  readonly unfinished: UnfinishedRequest[];
  readonly startedAt: number;
  /** performance.now() at the start; sample times are relative to it. */
  readonly origin: number;
  readonly durationMs: number;
  /** Number of requests that fell due (= ceil(durationS * rate), fewer if stopped by the signal). */
  readonly due: number;
}

/**
 * Open-loop load in the manner of wrk2 (adapted from bench/paced-load.ts):
 * request i is due at start + i / rate whether or not earlier ones have
 * finished, and its latency counts from that due time, so a stall shows up as
 * latency of every request that fell due during it (no coordinated omission).
 */
export async function runFixedRate(options: FixedRateOptions): Promise<FixedRateResult> {
  const { workload, onSample: onSampleOption, signal, request: requestFor = kvRequest, keepSamples = true, ...settings } = options;
  const parsed = FixedRateSchema.safeParse(settings);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `fixed-rate: ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`load options are invalid:\n${msg}`);
  }
  const o = parsed.data;
  const onSample = onSampleOption ?? ((): void => {});
  const timeoutMs = o.timeoutS * 1000;
  const pool = new Pool(o.target, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const headers = o.host !== undefined ? { host: o.host } : {};
  const samples: Sample[] = [];
  const outstanding = new Set<UnfinishedRequest>();
  const intervalMs = 1000 / o.rate;
  const total = Math.ceil(o.durationS * o.rate);
  const startedAt = Date.now();
  const origin = performance.now();
  const now = (): number => performance.now() - origin;
  let next = 0;

  const fire = (due: number): void => {
    const op = workload.nextOperation();
    const req: UnfinishedRequest = { ...op, start: due };
    outstanding.add(req);
    const { method, path, body, headers: extra } = requestFor(op);
    const record = (s: Sample): void => {
      if (!outstanding.delete(req)) return;
      if (keepSamples) samples.push(s);
      onSample(s);
    };
    pool
      .request({ path, method, headers: extra ? { ...headers, ...extra } : headers, body: body ?? null })
      .then(async (res) => {
        await res.body.dump();
        record(attribute({ ...op, start: due, end: now(), status: res.statusCode, headers: res.headers }));
      })
      .catch((err: unknown) => record(attribute({ ...op, start: due, end: now(), error: err })));
  };

  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    signal?.addEventListener('abort', stop, { once: true });
    const tick = (): void => {
      if (signal?.aborted) return void stop();
      const t = now();
      while (next < total && next * intervalMs <= t) {
        fire(next * intervalMs);
        next += 1;
      }
      if (next >= total) {
        signal?.removeEventListener('abort', stop);
        resolve();
      } else timer = setTimeout(tick, Math.max(0, next * intervalMs - now()));
    };
    tick();
  });
  const drainDeadline = now() + o.drainS * 1000;
  while (outstanding.size > 0 && now() < drainDeadline) await new Promise((r) => setTimeout(r, 5));
  const unfinished = [...outstanding].sort((a, b) => a.start - b.start);
  outstanding.clear();
  const durationMs = now();
  await pool.destroy();
  samples.sort((a, b) => a.start - b.start);
  return { samples, unfinished, startedAt, origin, durationMs, due: next };
}
