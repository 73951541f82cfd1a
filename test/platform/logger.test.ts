// The log record shape that README.md documents and log readers rely on:
// one JSON object per line with level (a name), time (ISO 8601), event, the base fields and the call's fields.
import assert from 'node:assert/strict';
import { createLogger, type LogLevel } from '../../platform/logger.js';

function capture(
  level: LogLevel,
  base?: Record<string, unknown>,
): { lines: string[]; records: () => Array<Record<string, unknown>>; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const log = createLogger(level, base, (l) => lines.push(l));
  return { lines, log, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('platform: JSON-lines logger', () => {
  it('writes one line per record with level, ISO time, event, base and fields', () => {
    const { lines, records, log } = capture('info', { component: 'gateway', gateway: 'gw-1' });
    log.info('gateway.access', { app: 'shop', status: 200, ms: 1.5, skipped: undefined });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('}\n') && !lines[0]!.slice(0, -1).includes('\n'), 'one line, newline-terminated');
    const [r] = records();
    const { time, ...rest } = r!;
    assert.equal(typeof time, 'string');
    assert.equal(new Date(time as string).toISOString(), time, 'time is an ISO 8601 string');
    assert.deepEqual(rest, {
      level: 'info',
      event: 'gateway.access',
      component: 'gateway',
      gateway: 'gw-1',
      app: 'shop',
      status: 200,
      ms: 1.5,
    });
  });

  it('drops records below the level and answers enabled()', () => {
    const { records, log } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    assert.deepEqual(
      records().map((r) => [r.level, r.event]),
      [
        ['warn', 'w'],
        ['error', 'e'],
      ],
    );
    assert.equal(log.enabled('info'), false);
    assert.equal(log.enabled('warn'), true);
    assert.equal(log.enabled('error'), true);
  });

  it('writes nothing at level silent', () => {
    const { lines, log } = capture('silent');
    log.error('e', { x: 1 });
    assert.deepEqual(lines, []);
  });

  it('writes debug records at level debug', () => {
    const { records, log } = capture('debug');
    log.debug('gateway.request.error', { code: 'NW_GW_X' });
    assert.deepEqual(
      records().map((r) => [r.level, r.event, r.code]),
      [['debug', 'gateway.request.error', 'NW_GW_X']],
    );
  });

  it('flattens an err field to message, code and name (no stack)', () => {
    const { records, log } = capture('info');
    log.error('boom', { err: Object.assign(new TypeError('bad input'), { code: 'E_BAD' }) });
    log.warn('plain', { err: new Error('no code') });
    log.warn('not an error', { err: 'just text' });
    assert.deepEqual(
      records().map((r) => r.err),
      [{ message: 'bad input', code: 'E_BAD', name: 'TypeError' }, { message: 'no code', name: 'Error' }, 'just text'],
    );
  });

  it('lets a field replace a base field of the same name, without a duplicate key', () => {
    const { lines, records, log } = capture('info', { component: 'controlplane', id: 'cp-1' });
    log.info('controlplane.migration.sync_progress', { id: 'm-1', hook: 'x' });
    assert.equal(lines[0]!.match(/"id":/g)?.length, 1);
    assert.deepEqual(
      records().map((r) => [r.component, r.id, r.hook]),
      [['controlplane', 'm-1', 'x']],
    );
  });

  it('keeps event names verbatim (no printf-style formatting)', () => {
    const { records, log } = capture('info');
    log.info('100%s done', { n: 1 });
    assert.equal(records()[0]!.event, '100%s done');
  });
});
