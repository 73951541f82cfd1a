import autocannon from 'autocannon';
import { z } from 'zod';
import type { Sample } from '../load-model.js';
import { attribute, errorCode, type ResponseHeaders } from './attribute.js';
import { kvRequest, type PlannedOperation, type RequestFor, type Workload } from './workload.js';

const ClosedLoopSchema = z
  .object({
    /** Base URL of the gateway (or app) to load, e.g. http://127.0.0.1:8080. */
    target: z.url(),
    /** Host header to send (selects the app at the gateway); defaults to the target's host. */
    host: z.string().min(1).optional(),
    connections: z.number().int().min(1).max(10_000).default(10),
    /** Run length in seconds; ignored when `amount` is set. */
    durationS: z.number().positive().optional(),
    /** Total number of requests instead of a duration. */
    amount: z.number().int().min(1).optional(),
    /** Per-request timeout in seconds. */
    timeoutS: z.number().positive().default(10),
  })
  .strict()
  .refine((o) => o.durationS !== undefined || o.amount !== undefined, { message: 'set durationS or amount', path: ['durationS'] });

export type ClosedLoopSettings = z.input<typeof ClosedLoopSchema>;

export interface ClosedLoopOptions extends ClosedLoopSettings {
  readonly workload: Workload;
  /** The request each operation becomes; default the reference app's (kvRequest). */
  readonly request?: RequestFor;
  /** Called for every sample as it is made (progress line, live charts); no-op by default. */
  readonly onSample?: (s: Sample) => void;
  /** Stops the run early (before durationS/amount); what was sent and not answered is `unfinished`. */
  readonly signal?: AbortSignal;
}

/** A request sent but not answered when the run stopped: a write here may or may not have been applied. */
export interface UnfinishedRequest extends PlannedOperation {
  readonly start: number;
}

export interface ClosedLoopResult {
  /** One per answered request, plus one per request lost to a timeout or socket error (status 0). */
  readonly samples: Sample[];
  /** Requests still in flight when autocannon stopped. */
  readonly unfinished: UnfinishedRequest[];
  /** Wall-clock start (ms since the epoch). */
  readonly startedAt: number;
  /** performance.now() at the start; sample times are relative to it. */
  readonly origin: number;
  readonly durationMs: number;
  readonly summary: autocannon.Result;
}

interface Pending extends PlannedOperation {
  readonly start: number;
}

/** autocannon's per-connection context; it is reset before each request is built. */
interface RequestContext {
  pending?: Pending;
}

/**
 * Closed-loop load on autocannon: each connection sends its next request when
 * the previous reply arrives. `setupRequest` draws the next operation from the
 * workload and stores it in the connection's context; `onResponse` (same
 * context, called before the next request is built) turns it into a Sample.
 *
 * autocannon does not say which request a timeout or socket error belongs to.
 * Requests without a reply are matched to those errors oldest first; the ones
 * left over were in flight at the stop and are returned as `unfinished`.
 */
export function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { workload, onSample: onSampleOption, signal, request: requestFor = kvRequest, ...settings } = options;
  const parsed = ClosedLoopSchema.safeParse(settings);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `closed-loop: ${i.path.join('.')}: ${i.message}`).join('\n');
    return Promise.reject(new Error(`load options are invalid:\n${msg}`));
  }
  const o = parsed.data;
  const onSample = onSampleOption ?? ((): void => {});
  const samples: Sample[] = [];
  const pending = new Set<Pending>();
  const errorCodes: string[] = [];
  const startedAt = Date.now();
  const origin = performance.now();
  const now = (): number => performance.now() - origin;

  const setupRequest = (req: autocannon.Request, context: object): autocannon.Request => {
    const op = workload.nextOperation();
    const p: Pending = { ...op, start: now() };
    (context as RequestContext).pending = p;
    pending.add(p);
    const r = requestFor(op);
    // autocannon writes Content-Length into the headers object it passed in, which it keeps
    // for the next request: hand it a fresh one so a GET never inherits a PUT's length.
    const headers = {
      ...Object.fromEntries(Object.entries(req.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'content-length')),
      ...r.headers,
    };
    return { ...req, method: r.method as autocannon.Request['method'], path: r.path, headers, body: r.body ?? Buffer.alloc(0) };
  };
  const onResponse = (status: number, _body: string, context: object, headers: autocannon.Request['headers']): void => {
    const p = (context as RequestContext).pending;
    if (!p) return;
    pending.delete(p);
    const s = attribute({ ...p, end: now(), status, headers: lowerCase(headers) });
    samples.push(s);
    onSample(s);
  };

  return new Promise<ClosedLoopResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.target,
        connections: o.connections,
        pipelining: 1,
        timeout: o.timeoutS,
        ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS ?? 1 }),
        ...(o.host !== undefined ? { headers: { host: o.host } } : {}),
        requests: [{ setupRequest, onResponse }],
      },
      (err: unknown, summary: autocannon.Result) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const end = now();
        const unanswered = [...pending].sort((a, b) => a.start - b.start);
        const lost = unanswered.slice(0, errorCodes.length);
        lost.forEach((p, i) => {
          const s = attribute({ ...p, end, error: errorCodes[i] });
          samples.push(s);
          onSample(s);
        });
        samples.sort((a, b) => a.start - b.start);
        resolve({ samples, unfinished: unanswered.slice(lost.length), startedAt, origin, durationMs: end, summary });
      },
    );
    if (signal) {
      if (signal.aborted) instance.stop();
      else signal.addEventListener('abort', () => instance.stop(), { once: true });
    }
    instance.on('reqError', (e: Error) => {
      errorCodes.push(e.message === 'request timed out' ? 'TIMEOUT' : errorCode(e));
    });
  });
}

function lowerCase(h: autocannon.Request['headers']): ResponseHeaders {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k.toLowerCase()] = v;
  return out;
}
