import type { Sample } from '../load-model.js';
import { isSuccess } from '../load-model.js';
import { fitTerminalWidth } from '../../platform/index.js';

/** A writable stream as far as the progress line needs one. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  /** The terminal's width (a TTY stream has it): the line is cut to fit. */
  readonly columns?: number;
  write(chunk: string): boolean;
}

export interface ProgressOptions {
  /** Where to draw; process.stderr by default. */
  readonly stream?: ProgressStream;
  /** 'auto' (default) draws only on a TTY; true / false force it either way. */
  readonly enabled?: boolean | 'auto';
  /** Redraw period; 250 ms by default. */
  readonly intervalMs?: number;
}

/** What a progress reporter needs from a run: feed it samples, then stop it. */
export interface Progress {
  readonly onSample: (s: Sample) => void;
  start(): void;
  /** Stops redrawing and ends the line. */
  stop(): void;
}

/** A Progress that does nothing: the default where nothing is to be drawn. */
export const noProgress: Progress = { onSample: () => {}, start: () => {}, stop: () => {} };

/**
 * A one-line progress display (req/s over the last redraw, errors, samples
 * served by n1 / n2, elapsed), redrawn about four times a second with `\r`.
 * Redraws are cut to the terminal's width (`\r` returns to the start of the
 * last row only, so a line that wrapped would leave a row behind on every
 * redraw); the final line, which stays, is whole.
 * Off when the stream is not a TTY unless forced.
 */
export function createProgress(o: ProgressOptions = {}): Progress {
  const stream = o.stream ?? process.stderr;
  const enabled = o.enabled === undefined || o.enabled === 'auto' ? stream.isTTY === true : o.enabled;
  if (!enabled) return noProgress;
  const intervalMs = o.intervalMs ?? 250;
  let total = 0;
  let errors = 0;
  let n1 = 0;
  let n2 = 0;
  let lastTotal = 0;
  let lastAt = 0;
  let startAt = 0;
  let timer: NodeJS.Timeout | undefined;

  const line = (): string => {
    const t = performance.now();
    const rate = t > lastAt ? ((total - lastTotal) * 1000) / (t - lastAt) : 0;
    lastTotal = total;
    lastAt = t;
    const elapsed = ((t - startAt) / 1000).toFixed(1);
    return `${Math.round(rate)} req/s  ${total} done  ${errors} errors  n1 ${n1}  n2 ${n2}  ${elapsed} s`;
  };
  return {
    onSample: (s) => {
      total += 1;
      if (!isSuccess(s)) errors += 1;
      if (s.servedBy === 'n1') n1 += 1;
      else if (s.servedBy === 'n2') n2 += 1;
    },
    start: () => {
      if (timer) return;
      startAt = lastAt = performance.now();
      timer = setInterval(() => stream.write(`\r${fitTerminalWidth(line(), stream.columns)}\x1b[K`), intervalMs);
      timer.unref();
    },
    stop: () => {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      stream.write(`\r${line()}\x1b[K\n`);
    },
  };
}
