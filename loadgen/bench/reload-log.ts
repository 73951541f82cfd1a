/**
 * Reading the gateway's own word on a reload from its JSON log lines (platform/logger.ts):
 * `gateway.reload.applied` (with the apps added, changed and removed) or `gateway.reload.failed`
 * (with its error code), and when, by the gateway's clock (ISO time, ms).
 */

export interface ReloadLogEvent {
  readonly outcome: 'applied' | 'failed';
  /** Wall-clock ms (Date.parse of the record's time). */
  readonly atMs: number;
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** The config file it read; a worker of a multi-worker gateway logs its own apply with "<primary>". */
  readonly file?: string;
  /** Set when it failed. */
  readonly code?: string;
}

const EVENTS: Readonly<Record<string, ReloadLogEvent['outcome']>> = {
  'gateway.reload.applied': 'applied',
  'gateway.reload.failed': 'failed',
};

function names(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The reload a log line reports, or undefined for any other line (other events, banner text, broken JSON). */
export function parseReloadLine(line: string): ReloadLogEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (record === null || typeof record !== 'object') return undefined;
  const r = record as Record<string, unknown>;
  const outcome = typeof r.event === 'string' ? EVENTS[r.event] : undefined;
  const atMs = typeof r.time === 'string' ? Date.parse(r.time) : NaN;
  if (outcome === undefined || Number.isNaN(atMs)) return undefined;
  return {
    outcome,
    atMs,
    added: names(r.added),
    changed: names(r.changed),
    removed: names(r.removed),
    ...(typeof r.file === 'string' ? { file: r.file } : {}),
    ...(typeof r.code === 'string' ? { code: r.code } : {}),
  };
}
