/**
 * The data the load generator produces and the reports consume. Every
 * response is one Sample, attributed from the gateway's headers; a run is
 * samples plus phase marks (what the control plane did, and when).
 */

export type Operation = 'read' | 'write' | 'delete';

/** Which deployment answered, from `x-northwest-deployment` ('unknown' without the header, 'none' for gateway-made replies). */
export type ServedBy = 'n1' | 'n2' | 'none' | 'unknown';

export interface Sample {
  /** ms since the run started, when the request was sent (or was due, in fixed-rate mode). */
  readonly start: number;
  /** ms since the run started, when the response completed (or the request failed). */
  readonly end: number;
  /** end - start; in fixed-rate mode measured from the due time (corrected for coordinated omission). */
  readonly latencyMs: number;
  readonly op: Operation;
  readonly key: string;
  /** HTTP status, or 0 for a socket error / timeout. */
  readonly status: number;
  readonly servedBy: ServedBy;
  /** `x-northwest-epoch`, if present. */
  readonly epoch: number | null;
  /** `x-northwest-mode`: the mode of the state the gateway routed by (serve, mirror, fence, proxy, redirect), if present. */
  readonly mode?: string;
  /** `x-northwest-error` or the socket error code. */
  readonly error?: string;
  /** For writes: the value written (the lost-write checker compares it with what N2 holds). */
  readonly value?: string;
}

/** Something that happened during a run, for the timeline and the chart. */
export interface PhaseMark {
  /** ms since the run started. */
  readonly t: number;
  readonly label: string;
}

/** One 100 ms bucket of the time series, per deployment. */
export interface SeriesPoint {
  /** Bucket start, ms since the run started. */
  readonly t: number;
  readonly servedBy: ServedBy;
  readonly count: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export const BUCKET_MS = 100;

/** A request succeeded if it got a 2xx or 3xx (a redirect is an answer, not a failure). */
export function isSuccess(s: Pick<Sample, 'status'>): boolean {
  return s.status >= 200 && s.status < 400;
}
