import { request } from 'undici';
import type { OperationRequest, PlannedOperation, RequestFor } from '../load/workload.js';
import type { AppApi, ReadBackTemplate, RequestTemplate } from './attach-config.js';

/** Puts the key (in the path, URL-encoded) and the value into a template. */
export function fillTemplate(t: RequestTemplate, key: string, value?: string): OperationRequest {
  const fill = (s: string, encode: (v: string) => string): string =>
    s.replaceAll('{key}', encode(key)).replaceAll('{value}', value === undefined ? '' : encode(value));
  return {
    method: t.method,
    path: fill(t.path, encodeURIComponent),
    ...(t.body === undefined ? {} : { body: fill(t.body, (v) => v) }),
    ...(Object.keys(t.headers).length ? { headers: t.headers } : {}),
  };
}

/** The requests of the app's own API that carry the workload's operations. */
export function appRequests(api: AppApi): RequestFor {
  return (op: PlannedOperation) => {
    if (op.op === 'read') return fillTemplate(api.read, op.key);
    if (op.op === 'delete') {
      // The config refuses deleteRatio > 0 without a delete template.
      if (!api.delete) throw new Error('a delete operation without api.delete');
      return fillTemplate(api.delete, op.key);
    }
    return fillTemplate(api.write, op.key, op.value);
  };
}

/** The value at a JSON pointer (RFC 6901); undefined when the document has nothing there. */
export function atJsonPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let at: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, token)) return undefined;
    at = (at as Record<string, unknown>)[token];
  }
  return at;
}

/** Where a read-back goes: a base URL, and the Host header to send there (through a gateway). */
export interface ReadBackTarget {
  readonly baseUrl: string;
  readonly host?: string;
}

/**
 * Reads one key back with the app's API. Undefined means absent (an `absentStatus`, or nothing at
 * the JSON pointer); any other answer that is not a 2xx comes back as `<HTTP status>`, which no
 * acceptable value equals: a key that cannot be read back counts as lost, never as kept.
 */
export function readBackFrom(
  t: ReadBackTemplate,
  target: ReadBackTarget,
  timeoutMs = 10_000,
): (key: string) => Promise<string | undefined> {
  const base = target.baseUrl.replace(/\/+$/, '');
  return async (key) => {
    const r = fillTemplate({ method: t.method, path: t.path, headers: t.headers }, key);
    const res = await request(`${base}${r.path}`, {
      method: r.method as 'GET',
      headers: { ...(target.host ? { host: target.host } : {}), ...t.headers },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (t.absentStatus.includes(res.statusCode)) return undefined;
    if (res.statusCode < 200 || res.statusCode >= 300) return `<HTTP ${res.statusCode}>`;
    if (t.value === 'body') return text;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return '<not JSON>';
    }
    const v = atJsonPointer(doc, t.value.json);
    if (v === undefined || v === null) return undefined;
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
}
