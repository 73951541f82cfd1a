import type { MigrationEventsPage } from '../admin/migration-events.js';
import { ControlError } from '../errors.js';
import type { AdminClient } from './admin-client.js';
import { formatEvent, formatProgress } from './format.js';
import { fitTerminalWidth } from '../../platform/terminal-line.js';

/** Where and how a followed migration is printed. */
export interface FollowOptions {
  readonly out: NodeJS.WriteStream;
  /** Epoch ms after which following gives up with NW_CP_WAIT_TIMEOUT (the migration keeps running). */
  readonly deadline?: number;
}

const CLEAR_LINE = '\r\x1b[2K';

/**
 * Prints a migration's timeline as it happens, one line per history entry,
 * until it finishes; returns the final page. On a TTY a progress line under
 * the timeline is redrawn about once a second; otherwise only plain lines.
 */
export async function followMigration(client: AdminClient, id: string, opts: FollowOptions): Promise<MigrationEventsPage> {
  const tty = opts.out.isTTY === true;
  // Elapsed time on the progress line counts from the migration's creation once we have seen it.
  let origin = Date.now();
  let after = -1;
  let progress = '';
  for (;;) {
    const left = opts.deadline === undefined ? Infinity : opts.deadline - Date.now();
    if (left <= 0) {
      if (progress) opts.out.write('\n');
      throw new ControlError('NW_CP_WAIT_TIMEOUT', `${id} is still running; follow it with: northwest watch ${id}`);
    }
    const waitMs = Math.max(0, Math.min(tty ? 1000 : 25_000, left));
    const page = await client.get<MigrationEventsPage>(
      `/migrations/${encodeURIComponent(id)}/events?after=${after}&waitMs=${Math.round(waitMs)}`,
    );
    const created = page.events.find((e) => e.index === 0);
    if (created && Number.isFinite(Date.parse(created.at))) origin = Date.parse(created.at);
    const lines = page.events.map((e) => `${formatEvent(e)}\n`).join('');
    if (tty) {
      progress = page.finished ? '' : fitTerminalWidth(formatProgress(page, Date.now() - origin), opts.out.columns);
      opts.out.write(`${CLEAR_LINE}${lines}${progress}`);
    } else if (lines) {
      opts.out.write(lines);
    }
    after = Math.max(after, page.last);
    if (page.finished) return page;
  }
}
