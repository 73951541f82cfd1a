/** Structured logs: one JSON object per line. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
}

export type LogSink = (line: string) => void;

export function createLogger(level: LogLevel, base: LogFields = {}, sink: LogSink = (l) => process.stdout.write(l)): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, event: string, fields?: LogFields): void => {
    if (ORDER[lvl] < min) return;
    const rec: LogFields = { time: new Date().toISOString(), level: lvl, event, ...base, ...fields };
    if (rec.err instanceof Error) {
      const e = rec.err as Error & { code?: string };
      rec.err = { message: e.message, code: e.code, name: e.name };
    }
    sink(`${JSON.stringify(rec)}\n`);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
}
