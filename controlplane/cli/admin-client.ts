import { request } from 'undici';
import { ControlError } from '../errors.js';

/** A failure the admin API reported, with its code as the server sent it. */
export class AdminCallError extends Error {
  override readonly name = 'AdminCallError';

  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function errorOf(status: number, body: unknown): AdminCallError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (e && typeof e.code === 'string') return new AdminCallError(e.code, typeof e.message === 'string' ? e.message : e.code, status);
  return new AdminCallError('NW_CP_INTERNAL', `admin API answered ${status} without an error body`, status);
}

/** The CLI's side of the control-plane admin API: JSON in, JSON out, typed failures. */
export class AdminClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${this.base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      throw new ControlError('NW_CP_ADMIN_UNREACHABLE', `${this.base}: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AdminCallError(
        'NW_CP_INTERNAL',
        `${method} ${path}: admin API answered ${res.statusCode} with a body that is not JSON`,
        res.statusCode,
      );
    }
    if (res.statusCode >= 400) throw errorOf(res.statusCode, parsed);
    return parsed as T;
  }
}
