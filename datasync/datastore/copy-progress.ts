import { fitTerminalWidth } from '../../platform/terminal-line.js';
/**
 * Progress of a snapshot copy: figures for an onProgress callback, and a
 * one-line display on stderr when it is a terminal (quiet otherwise).
 */

export interface SnapshotProgress {
  readonly phase: 'copy' | 'verify';
  /** `ks.table` of the range that last reported. */
  readonly table: string;
  readonly rangesTotal: number;
  /** Done, including ranges found done in checkpoints. */
  readonly rangesDone: number;
  /** Ranges found done in checkpoints (not read again). */
  readonly rangesSkipped: number;
  /** Rows and bytes copied by this run. */
  readonly rows: number;
  readonly bytes: number;
  readonly rowsPerSec: number;
  /** Share of the token space covered, over all tables (0..1). */
  readonly fraction: number;
  /** Seconds left at the current pace; undefined until there is a pace. */
  readonly etaSeconds: number | undefined;
  readonly elapsedMs: number;
}

export interface ProgressSink {
  update(p: SnapshotProgress): void;
  /** Ends the display line. */
  finish(): void;
}

/** A writable that may be a terminal (process.stderr). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  /** The terminal's width (a TTY stream has it): the line is cut to fit. */
  readonly columns?: number;
  write(chunk: string): boolean;
}

function fmtEta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

export function formatProgress(p: SnapshotProgress): string {
  const mb = (p.bytes / 1e6).toFixed(1);
  return (
    `snapshot ${p.phase} ${p.table}: ranges ${p.rangesDone}/${p.rangesTotal}, ${p.rows} rows (${mb} MB), ` +
    `${Math.round(p.rowsPerSec)} rows/s, ${(p.fraction * 100).toFixed(1)} %, ETA ${fmtEta(p.etaSeconds)}`
  );
}

/**
 * Calls onProgress on every update; draws at most ~4 lines a second when `stream` is a TTY.
 * Redraws are cut to the terminal's width (the line is often over 80 columns, and `\r` returns to
 * the start of the last row only, so a wrapped line would leave a row behind on every redraw);
 * the final line, which stays, is whole.
 */
export function createProgressSink(opts: {
  onProgress?: (p: SnapshotProgress) => void;
  stream?: ProgressStream;
  intervalMs?: number;
}): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const interval = opts.intervalMs ?? 250;
  let lastDraw = 0;
  let drawn = false;
  let latest: SnapshotProgress | undefined;
  return {
    update(p) {
      latest = p;
      opts.onProgress?.(p);
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < interval) return;
      lastDraw = now;
      drawn = true;
      stream.write(`\r\u001b[K${fitTerminalWidth(formatProgress(p), stream.columns)}`);
    },
    finish() {
      if (tty && latest) stream.write(`\r\u001b[K${formatProgress(latest)}\n`);
      else if (drawn) stream.write('\n');
    },
  };
}
