import { bearerTokenProblem } from '../../platform/admin-http.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ControlError } from '../errors.js';

/** Largest request body the admin API reads (a plan is a few KiB). */
export const MAX_ADMIN_BODY = 1024 * 1024;

/** The error body every admin endpoint answers failures with. */
export interface AdminErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: Readonly<Record<string, unknown>> };
}

/** Throws NW_CP_ADMIN_UNAUTHORIZED unless the request carries `Authorization: Bearer <token>`. */
export function authorize(token: string | undefined, req: IncomingMessage): void {
  const problem = bearerTokenProblem(token, req);
  if (problem === 'no-token') throw new ControlError('NW_CP_ADMIN_UNAUTHORIZED', 'no admin token is configured on this control plane');
  if (problem) throw new ControlError('NW_CP_ADMIN_UNAUTHORIZED');
}

/** Reads a body of at most `max` bytes as UTF-8 text. */
export async function readBodyText(req: IncomingMessage, max: number = MAX_ADMIN_BODY): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', `body of ${declared} bytes is over the ${max}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', `body is over the ${max}-byte limit`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads a JSON body of at most MAX_ADMIN_BODY bytes. An empty body is
 * `undefined`, so endpoints with an optional body can tell "none" from `{}`.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBodyText(req);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', `body is not JSON: ${(err as Error).message}`);
  }
}

/** Writes a JSON reply that no cache may keep. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Answers with the error's status and `{error: {code, message, details?}}`. */
export function sendError(res: ServerResponse, err: ControlError, headers: Record<string, string> = {}): void {
  const body: AdminErrorBody = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
  sendJson(res, err.status, body, headers);
}
