/**
 * Structured logs: one JSON object per line, written by pino.
 *
 * A record reads `{"level":"info","time":"<ISO 8601>",...base,...fields,"event":"<name>"}`:
 * `level` is the name, `time` an ISO string, the event name is pino's message (`messageKey`),
 * and an `err` field that is an Error is flattened to `{message, code, name}` (no stack).
 * A field named like a `base` field wins over it, as a later key would; `time`, `level`
 * and `event` are the record's own and should not be used as field names.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

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

type Method = (event: string, fields?: LogFields) => void;
const noop: Method = () => {};

function flattenErr(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { code?: unknown };
  return { message: e.message, code: e.code, name: e.name };
}

export function createLogger(level: LogLevel, base: LogFields = {}, sink: LogSink = (l) => process.stdout.write(l)): Logger {
  const min = ORDER[level];
  const destination: DestinationStream = { write: sink };
  const root = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'event',
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: flattenErr },
    },
    destination,
  );
  // The base fields are serialised once, as bindings of a child logger.
  const baseKeys = Object.keys(base);
  const bound = baseKeys.length > 0 ? root.child(base) : root;

  const method = (lvl: Exclude<LogLevel, 'silent'>): Method => {
    if (ORDER[lvl] < min) return noop;
    const rootLog: PinoLogger[typeof lvl] = root[lvl].bind(root);
    const boundLog: PinoLogger[typeof lvl] = bound[lvl].bind(bound);
    return (event, fields) => {
      if (fields === undefined) return boundLog(event);
      // A field that repeats a base key replaces it in the record instead of adding a duplicate key.
      for (const k of baseKeys) if (Object.hasOwn(fields, k)) return rootLog({ ...base, ...fields }, event);
      boundLog(fields, event);
    };
  };
  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
}
