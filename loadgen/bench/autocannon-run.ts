import autocannon from 'autocannon';
import type { ClientTls } from './bench-certificate.js';
import type { Workload } from './bench-workloads.js';
import { LatencyRecorder, type LatencySummary } from './latency-histogram.js';

/** What one load run against one target measured. */
export interface LoadResult {
  /** Completed requests per second over the run. */
  readonly rps: number;
  readonly completed: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly durationS: number;
  /** 2xx latencies, µs. */
  readonly latencyUs: LatencySummary;
}

export interface AutocannonRunOptions {
  readonly baseUrl: string;
  readonly workload: Workload;
  readonly connections: number;
  readonly durationS: number;
  /** Requests per second over all connections (autocannon's `overallRate`); unset for saturation. */
  readonly overallRate?: number;
  /**
   * An https:// target: autocannon sends this SNI and insists on TLS 1.3. It does not check the
   * certificate (it sets rejectUnauthorized: false); the bench's smoke check did.
   */
  readonly tls?: ClientTls;
}

/**
 * One autocannon run in this process. Latencies are taken from its per-response
 * events (µs) rather than its ms histogram. `ignoreCoordinatedOmission` is set
 * because autocannon 9's correction uses `Math.ceil(1 / rate)` as the expected
 * interval, i.e. 1 ms whatever the rate, which fabricates samples instead of
 * correcting them.
 */
export function runAutocannon(o: AutocannonRunOptions): Promise<LoadResult> {
  const recorder = new LatencyRecorder();
  const w = o.workload;
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.baseUrl + w.path,
        method: w.method,
        headers: { ...w.headers },
        body: w.body,
        connections: o.connections,
        duration: o.durationS,
        pipelining: 1,
        timeout: 10,
        ...(o.tls === undefined ? {} : { servername: o.tls.servername, tlsOptions: { ca: o.tls.ca, minVersion: 'TLSv1.3' } }),
        ...(o.overallRate !== undefined ? { overallRate: Math.max(1, Math.round(o.overallRate)), ignoreCoordinatedOmission: true } : {}),
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) {
          recorder.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const latencyUs = recorder.summary();
        recorder.destroy();
        resolve({
          rps: result.duration > 0 ? result.requests.total / result.duration : 0,
          completed: result.requests.total,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          durationS: result.duration,
          latencyUs,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) recorder.recordMs(responseTimeMs);
    });
  });
}
