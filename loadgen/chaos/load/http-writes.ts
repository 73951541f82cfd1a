import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { appErrorOf, errorBodyOf, errorCode, type LoadRecorder, northwestHeaders } from './load-recorder.js';

const now = (): string => process.hrtime.bigint().toString();

/** A gateway as the clients know it: its traffic URL and the slot name traces show. */
export interface GatewayAddress {
  readonly url: string;
  readonly name: string;
}

export interface HttpWrite {
  readonly gateway: GatewayAddress;
  readonly host: string;
  readonly key: string;
  /** Unique; also sent as x-request-id, so the commit logs name the request. */
  readonly id: string;
  readonly source: string;
  /** The client leaves (aborts) after this long, answered or not. */
  readonly abortAfterMs?: number;
  /** The body is sent in this many pieces spread over `overMs`. */
  readonly trickle?: { readonly chunks: number; readonly overMs: number };
  readonly timeoutMs?: number;
}

async function* trickled(value: string, chunks: number, overMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
  const size = Math.ceil(value.length / chunks);
  for (let i = 0; i < value.length; i += size) {
    if (i > 0) await sleep(overMs / chunks, undefined, { signal });
    yield Buffer.from(value.slice(i, i + size));
  }
}

/** PUT /kv/<key> with the id as value through a gateway; records how it ended. Never throws. */
export async function sendWrite(rec: LoadRecorder, w: HttpWrite): Promise<void> {
  const ac = new AbortController();
  const timer = w.abortAfterMs !== undefined ? setTimeout(() => ac.abort(), w.abortAfterMs) : undefined;
  const startNs = now();
  const base = { id: w.id, key: w.key, value: w.id, via: 'http' as const, source: w.source, gateway: w.gateway.name, startNs };
  try {
    const res = await request(`${w.gateway.url}/kv/${w.key}`, {
      method: 'PUT',
      headers: { host: w.host, 'x-request-id': w.id, 'content-type': 'text/plain' },
      body: w.trickle ? Readable.from(trickled(w.id, w.trickle.chunks, w.trickle.overMs, ac.signal)) : w.id,
      signal: ac.signal,
      headersTimeout: w.timeoutMs ?? 20_000,
      bodyTimeout: w.timeoutMs ?? 20_000,
    });
    const status = res.statusCode;
    const errorBody = await errorBodyOf(status, res.headers, res.body);
    const endNs = now();
    const headers = northwestHeaders(res.headers);
    rec.write({
      ...base,
      endNs,
      status,
      outcome: status < 300 ? 'acked' : status < 500 ? 'rejected' : 'failed',
      ...headers,
      ...(headers.error === undefined && errorBody !== undefined ? { error: appErrorOf(errorBody) } : {}),
    });
  } catch (err) {
    const code = ac.signal.aborted ? 'client-left' : errorCode(err);
    // a refused connection never carried the write; anything else may have
    rec.write({ ...base, endNs: now(), status: 0, outcome: code === 'ECONNREFUSED' ? 'failed' : 'unknown' }, code);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /kv/<key> through a gateway; only counted. */
export async function sendRead(rec: LoadRecorder, gateway: GatewayAddress, host: string, key: string): Promise<void> {
  try {
    const res = await request(`${gateway.url}/kv/${key}`, { headers: { host }, headersTimeout: 20_000, bodyTimeout: 20_000 });
    const errorBody = await errorBodyOf(res.statusCode, res.headers, res.body);
    rec.read(
      res.statusCode === 404 ? 200 : res.statusCode,
      northwestHeaders(res.headers).error ?? (errorBody === undefined ? undefined : appErrorOf(errorBody)),
    );
  } catch (err) {
    rec.read(0, undefined, errorCode(err));
  }
}
