import type { ClientWrite } from '../invariants/evidence.js';

/** Counts of one kind of request by how it ended. */
export interface RequestCounts {
  total: number;
  ok: number;
  /** 4xx */
  rejected: number;
  /** 5xx, by `x-northwest-error` code, else the app's own error code and cause (else `status <n>`) */
  failed: Record<string, number>;
  /** no answer: connection refused or reset, timeout, client left */
  noAnswer: Record<string, number>;
}

const counts = (): RequestCounts => ({ total: 0, ok: 0, rejected: 0, failed: {}, noAnswer: {} });

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

/** What the campaign's clients saw for one migration: every write (for the invariants) and counts of everything. */
export class LoadRecorder {
  readonly writes: ClientWrite[] = [];
  readonly reads = counts();
  readonly writeCounts = counts();

  write(w: ClientWrite, noAnswerReason?: string): void {
    this.writes.push(w);
    this.count(this.writeCounts, w.status, w.error, noAnswerReason);
  }

  read(status: number, error: string | undefined, noAnswerReason?: string): void {
    this.count(this.reads, status, error, noAnswerReason);
  }

  private count(c: RequestCounts, status: number, error: string | undefined, noAnswerReason: string | undefined): void {
    c.total += 1;
    if (status === 0) bump(c.noAnswer, noAnswerReason ?? 'error');
    else if (status < 400) c.ok += 1;
    else if (status < 500) c.rejected += 1;
    else bump(c.failed, error ?? `status ${status}`);
  }
}

/** The headers of a gateway reply the traces need. */
export function northwestHeaders(
  h: Record<string, string | string[] | undefined>,
): Pick<ClientWrite, 'deployment' | 'mode' | 'epoch' | 'error' | 'mirroredTo'> {
  const one = (name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return {
    deployment: one('x-northwest-deployment'),
    mode: one('x-northwest-mode'),
    epoch: one('x-northwest-epoch'),
    error: one('x-northwest-error'),
    mirroredTo: one('x-northwest-mirrored-to'),
  };
}

/**
 * What an app's own 5xx (no `x-northwest-error`) says failed, for counts: the JSON body's
 * `error.code`, and its `error.cause.code` when it names one (the reference app's
 * `NW_APP_STORE_FAILED (NW_SYNC_WRITE_FAILED)`). Undefined for a body that says neither.
 */
export function appErrorOf(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: { code?: unknown; cause?: { code?: unknown } } } | null)?.error;
  if (typeof error?.code !== 'string') return undefined;
  const cause = error.cause?.code;
  return typeof cause === 'string' ? `${error.code} (${cause})` : error.code;
}

/** At most this much of a 5xx body is read to name its error; the rest is dropped. */
const ERROR_BODY_BYTES = 4096;

/** The body of a reply, as text if it is a 5xx the gateway did not make (to name the app's error), else dropped. */
export async function errorBodyOf(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: AsyncIterable<Buffer> & { dump(): Promise<void> },
): Promise<string | undefined> {
  if (status < 500 || headers['x-northwest-error'] !== undefined) {
    await body.dump();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < ERROR_BODY_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES).toString('utf8');
}

/** undici / node error code of a failed request, for counts. */
export function errorCode(err: unknown): string {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? e.name ?? 'error';
}
