import type { IndexedLogEvent, MigrationEventsPage } from '../admin/migration-events.js';
import type { AppStatus, FleetStatus } from '../control-plane.js';

/** Left-aligned columns, two spaces apart; the header row first. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function modeOf(app: AppStatus): string {
  const mode = (app.state as { mode?: unknown } | null | undefined)?.mode;
  if (app.stateError) return `? (${app.stateError})`;
  return typeof mode === 'string' ? mode : '-';
}

/** The human form of GET /status: members, apps with their acks, migrations. */
export function formatStatus(s: FleetStatus): string {
  const members = table(
    ['MEMBER', 'KIND', 'HOST', 'PID', 'APPS'],
    s.members.map((m) => [m.id, m.kind, m.host, String(m.pid), m.apps.join(',') || '-']),
  );
  const apps = table(
    ['APP', 'EPOCH', 'MODE', 'LOCK', 'ACKED', 'NOT ACKED'],
    s.apps.map((a) => {
      // A member that refused the current epoch says why (its code) where it is listed as behind.
      const behind = a.acks
        .filter((k) => !k.current)
        .map((k) => (k.refused && k.refused.epoch === a.epoch ? `${k.member} (refused: ${k.refused.code})` : k.member));
      // No state yet means nothing to ack.
      if (a.epoch === undefined) return [a.app, '-', '-', a.lock ?? '-', '-', '-'];
      return [
        a.app,
        String(a.epoch),
        modeOf(a),
        a.lock ?? '-',
        `${a.acks.length - behind.length}/${a.acks.length}`,
        behind.join(',') || '-',
      ];
    }),
  );
  const migrations = table(
    ['MIGRATION', 'STATUS', 'PHASE', 'APPS', 'UPDATED'],
    s.migrations.map((m) => [
      m.id,
      m.status,
      m.phase ? `${m.phase} (${m.phaseStatus ?? '-'})` : '-',
      m.apps.join(',') || '-',
      m.updatedAt || '-',
    ]),
  );
  // Why a migration failed a phase (a gate's verdict, a refused barrier): the operator's first question.
  const errors = s.migrations.filter((m) => m.error).map((m) => `  ${m.id}: ${m.error!.code}: ${m.error!.message}`);
  return [
    `leader: ${s.leader ?? '(none)'}`,
    '',
    `members (${s.members.length})`,
    members,
    '',
    `apps (${s.apps.length})`,
    apps,
    '',
    `migrations (${s.migrations.length})`,
    migrations,
    ...(errors.length ? ['', 'why', ...errors] : []),
  ].join('\n');
}

function barrierText(e: IndexedLogEvent): string {
  const b = e.barrier;
  if (!b) return '';
  const missing = [...new Set(b.missing.map((m) => m.member))];
  const acked = b.members.filter((m) => !missing.includes(m)).length;
  const parts = [`barrier ${b.ok ? 'ok' : 'FAILED'} ${acked}/${b.members.length}`];
  if (missing.length) parts.push(`missing ${missing.join(',')}`);
  if (b.departed.length) parts.push(`departed ${b.departed.join(',')}`);
  return parts.join(' ');
}

/** One timeline line: time, event, phase, duration, barrier, detail. */
export function formatEvent(e: IndexedLogEvent): string {
  const time = e.at.length >= 23 ? e.at.slice(11, 23) : e.at;
  const duration =
    e.durationMs === undefined ? '' : e.durationMs >= 1000 ? `${(e.durationMs / 1000).toFixed(2)}s` : `${e.durationMs.toFixed(1)}ms`;
  const epochs = e.epochs
    ? `epoch ${Object.entries(e.epochs)
        .map(([app, n]) => `${app}=${n}`)
        .join(',')}`
    : '';
  const rest = [barrierText(e), epochs, e.detail ?? ''].filter((p) => p !== '');
  return [time, e.event.padEnd(16), (e.phase ?? '').padEnd(8), duration.padStart(9), ...rest].join('  ').trimEnd();
}

/** The line a TTY redraws while waiting: where the migration stands. */
export function formatProgress(p: MigrationEventsPage, elapsedMs: number): string {
  const phase = p.phase ? `${p.phase} (${p.phaseStatus ?? '-'})` : 'not started';
  return `${p.id}: ${p.status}, phase ${phase}, ${(elapsedMs / 1000).toFixed(1)}s`;
}

/** The last line of a followed migration. */
export function formatOutcome(p: MigrationEventsPage): string {
  return `migration ${p.id} ${p.status}${p.phase ? ` (last phase ${p.phase})` : ''}`;
}
