import type { Operation, Sample, ServedBy } from '../load-model.js';
import { RESPONSE_HEADERS } from '../../protocol/index.js';

/** Response headers as the HTTP clients give them (lower-case names). */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A completed HTTP exchange, as seen by the client, before attribution. */
export interface Exchange {
  /** ms since the run started: when the request was sent (or due, in fixed-rate mode). */
  readonly start: number;
  /** ms since the run started: when the response completed or the request failed. */
  readonly end: number;
  readonly op: Operation;
  readonly key: string;
  /** For writes: the value sent. */
  readonly value?: string;
  /** HTTP status; 0 or absent when there was no response. */
  readonly status?: number;
  readonly headers?: ResponseHeaders;
  /** The socket / client error, when there was no response. */
  readonly error?: unknown;
}

function header(h: ResponseHeaders | undefined, name: string): string | undefined {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
}

function servedByFrom(v: string | undefined): ServedBy {
  return v === 'n1' || v === 'n2' || v === 'none' ? v : 'unknown';
}

/** A mode name as a gateway sends it; anything else is not a mode. */
const modeFrom = (v: string | undefined): string | undefined => (v !== undefined && /^[a-z]{1,16}$/.test(v.trim()) ? v.trim() : undefined);

function epochFrom(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  return Number(v.trim());
}

/** The error code of a client-side failure: `code` when it has one (ECONNRESET, UND_ERR_…), else its name. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0 && name !== 'Error') return name;
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string' && message.length > 0) return message;
  }
  return typeof err === 'string' && err.length > 0 ? err : 'UNKNOWN_ERROR';
}

/**
 * Turns an exchange into a Sample: servedBy from `x-northwest-deployment`
 * ('unknown' without it), epoch from `x-northwest-epoch`, mode from `x-northwest-mode`, error from
 * `x-northwest-error` or else the client error's code.
 */
export function attribute(x: Exchange): Sample {
  const status = x.status ?? 0;
  const gwError = header(x.headers, RESPONSE_HEADERS.error);
  const error = gwError ?? (x.error !== undefined ? errorCode(x.error) : status === 0 ? 'NO_RESPONSE' : undefined);
  const end = Math.max(x.end, x.start);
  const mode = modeFrom(header(x.headers, RESPONSE_HEADERS.mode));
  return {
    start: x.start,
    end,
    latencyMs: end - x.start,
    op: x.op,
    key: x.key,
    status,
    servedBy: servedByFrom(header(x.headers, RESPONSE_HEADERS.deployment)),
    epoch: epochFrom(header(x.headers, RESPONSE_HEADERS.epoch)),
    ...(mode !== undefined ? { mode } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(x.value !== undefined ? { value: x.value } : {}),
  };
}
