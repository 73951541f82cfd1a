import type { ClientWrite } from '../invariants/evidence.js';

/** Counts of one kind of request by how it ended. */
export interface RequestCounts {
  total: number;
  ok: number;
  /** 4xx */
  rejected: number;
  /** 5xx, by `x-northwest-error` code (or `status <n>`) */
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

/** undici / node error code of a failed request, for counts. */
export function errorCode(err: unknown): string {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? e.name ?? 'error';
}
