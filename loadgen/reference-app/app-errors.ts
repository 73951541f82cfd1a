import type { ServerResponse } from 'node:http';

/** Largest PUT body accepted; larger ones get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Longest key accepted. */
export const MAX_KEY_LENGTH = 256;
export const KEY_PATTERN = /^[A-Za-z0-9._~-]+$/;

/** Every error the reference app answers with; `code` is stable and goes into the JSON body. */
export const REFERENCE_APP_ERRORS = {
  NW_APP_NOT_FOUND: { status: 404, message: 'no such path' },
  NW_APP_KEY_NOT_FOUND: { status: 404, message: 'no such key' },
  NW_APP_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  NW_APP_INVALID_KEY: { status: 400, message: `key must be 1..${MAX_KEY_LENGTH} URL-safe characters [A-Za-z0-9._~-]` },
  NW_APP_BODY_TOO_LARGE: { status: 413, message: `body larger than ${MAX_BODY_BYTES} bytes` },
  NW_APP_BAD_BODY: { status: 400, message: 'body could not be read' },
  NW_APP_STORE_FAILED: { status: 500, message: 'store failed' },
  NW_APP_FAULT_INJECTED: { status: 503, message: 'failing on purpose (fault switch on)' },
} as const;
export type ReferenceAppErrorCode = keyof typeof REFERENCE_APP_ERRORS;

export function sendJson(res: ServerResponse, status: number, body: object, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/** `close` ends the connection after the reply, for when the request body was not read to its end. */
export function sendError(res: ServerResponse, code: ReferenceAppErrorCode, allow?: string, close = false, status?: number): void {
  const e = REFERENCE_APP_ERRORS[code];
  if (allow) res.setHeader('allow', allow);
  sendJson(res, status ?? e.status, { error: { code, message: e.message } }, close);
}

/**
 * NW_APP_STORE_FAILED naming what failed in the store: its typed code (NW_SYNC_WRITE_FAILED …) and
 * message, so a failed write in a test or an experiment says why. The reference app is a stand-in
 * for an app; a real one would log the cause rather than answer it.
 */
export function sendStoreFailed(res: ServerResponse, err: unknown): void {
  const code = (err as { code?: unknown } | undefined)?.code;
  const cause = { ...(typeof code === 'string' ? { code } : {}), message: err instanceof Error ? err.message : String(err) };
  const e = REFERENCE_APP_ERRORS.NW_APP_STORE_FAILED;
  sendJson(res, e.status, { error: { code: 'NW_APP_STORE_FAILED', message: e.message, cause } });
}
