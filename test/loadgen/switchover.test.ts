import assert from 'node:assert/strict';
import type { LogEvent } from '../../controlplane/migration/migration-log.js';
import type { Operation, Sample, ServedBy } from '../../loadgen/load-model.js';
import { marksFromMigrationHistory, phaseDurationMs } from '../../loadgen/analysis/phase-marks.js';
import { analyzeSwitchover, BEFORE_FIRST_MARK, checkWriteSafety, phaseAt } from '../../loadgen/analysis/switchover.js';
import { SYNTHETIC_HANDOVER_AT, SYNTHETIC_MARKS, syntheticRun } from '../support/synthetic-run.js';

function req(op: Operation, start: number, end: number, servedBy: ServedBy, status = 200, error?: string): Sample {
  return { start, end, latencyMs: end - start, op, key: 'k', status, servedBy, epoch: null, ...(error ? { error } : {}) };
}

const marks = [
  { t: 100, label: 'prepare' },
  { t: 200, label: 'fence' },
  { t: 300, label: 'proxy' },
];

describe('switchover analysis', () => {
  it('finds the first N2 response after T and the last N1 response', () => {
    const samples = [
      req('read', 0, 10, 'n2'), // before T: a health probe, say; not "first after T"
      req('read', 90, 120, 'n1'),
      req('read', 290, 330, 'n1'),
      req('read', 300, 315, 'n2'),
      req('read', 301, 312, 'n2'),
      req('read', 400, 410, 'n2'),
    ];
    const a = analyzeSwitchover(samples, marks, 50);
    assert.equal(a.firstN2?.end, 312);
    assert.equal(a.firstN2AfterMs, 262);
    assert.equal(a.lastN1?.end, 330);
    assert.equal(a.lastN1AfterMs, 280);
  });

  it('reports none when a deployment never answered', () => {
    const a = analyzeSwitchover([req('read', 0, 5, 'n1')], marks, 50);
    assert.equal(a.firstN2, null);
    assert.equal(a.firstN2AfterMs, null);
    assert.equal(a.lastN1AfterMs, -45);
  });

  it('groups failures (HTTP errors and socket errors) by the phase they started in', () => {
    const samples = [
      req('read', 50, 60, 'n1', 502, 'NW_GW_UPSTREAM_UNREACHABLE'),
      req('write', 210, 400, 'none', 503, 'NW_GW_WRITE_HOLD_TIMEOUT'),
      req('write', 250, 270, 'unknown', 0, 'ECONNRESET'),
      req('read', 250, 270, 'unknown', 0),
      req('read', 150, 170, 'n1', 404),
      req('read', 260, 270, 'n1', 200),
      req('read', 270, 280, 'n1', 307),
    ];
    const a = analyzeSwitchover(samples, marks, 50);
    assert.equal(a.failedTotal, 5);
    assert.deepEqual(
      a.failedByPhase.map((g) => [g.phase, g.count]),
      [
        [BEFORE_FIRST_MARK, 1],
        ['prepare', 1],
        ['fence', 3],
      ],
    );
    assert.deepEqual(a.failedByPhase[2]?.byError, { NW_GW_WRITE_HOLD_TIMEOUT: 1, ECONNRESET: 1, 'socket error': 1 });
    assert.deepEqual(a.failedByPhase[1]?.byError, { 'HTTP 404': 1 });
  });

  it('counts per operation, success and deployment', () => {
    const samples = [
      req('read', 0, 1, 'n1'),
      req('read', 0, 1, 'n2', 500),
      req('write', 0, 1, 'n2', 201),
      req('delete', 0, 1, 'none', 503),
    ];
    const { byOperation } = analyzeSwitchover(samples, marks, 0);
    assert.deepEqual(byOperation.read, { total: 2, ok: 1, failed: 1, n1: 1, n2: 1 });
    assert.deepEqual(byOperation.write, { total: 1, ok: 1, failed: 0, n1: 0, n2: 1 });
    assert.deepEqual(byOperation.delete, { total: 1, ok: 0, failed: 1, n1: 0, n2: 0 });
  });

  it('phaseAt takes the last mark at or before the time, whatever the mark order', () => {
    const shuffled = [marks[2]!, marks[0]!, marks[1]!];
    assert.equal(phaseAt(shuffled, 200).phase, 'fence');
    assert.equal(phaseAt(shuffled, 299.9).phase, 'fence');
    assert.equal(phaseAt(shuffled, 99).phase, BEFORE_FIRST_MARK);
  });

  describe('write safety: no write served by N1 after the first N2 write', () => {
    it('holds when N1 writes started before the first N2 write completed (overlap is allowed)', () => {
      const s = checkWriteSafety([
        req('write', 100, 150, 'n1'),
        req('write', 120, 140, 'n2'),
        req('write', 139, 200, 'n1'),
        req('read', 300, 310, 'n1'),
      ]);
      assert.equal(s.ok, true);
      assert.equal(s.firstN2WriteEnd, 140);
    });

    it('flags an N1 write (or delete) that started after the first N2 write completed', () => {
      const late = req('write', 141, 160, 'n1');
      const lateDelete = req('delete', 500, 510, 'n1', 404);
      const s = checkWriteSafety([req('write', 120, 140, 'n2'), late, lateDelete, req('read', 300, 310, 'n1')]);
      assert.equal(s.ok, false);
      assert.deepEqual(s.violations, [late, lateDelete]);
    });

    it('holds on the synthetic run and is reported by analyzeSwitchover', () => {
      const a = analyzeSwitchover(syntheticRun(), SYNTHETIC_MARKS, SYNTHETIC_HANDOVER_AT);
      assert.equal(a.writeSafety.ok, true);
      assert.equal(a.failedTotal, 0);
      assert.ok(a.firstN2 && a.firstN2.end > 5000);
    });
  });

  describe('phase marks from a migration log', () => {
    const start = Date.parse('2026-03-01T10:00:00.000Z');
    const at = (ms: number): string => new Date(start + ms).toISOString();
    const history: LogEvent[] = [
      { at: at(-500), event: 'created' },
      { at: at(100), event: 'phase-started', phase: 'prepare' },
      { at: at(180), event: 'phase-completed', phase: 'prepare', durationMs: 80 },
      { at: at(180), event: 'phase-started', phase: 'dns' },
      { at: at(190), event: 'note', phase: 'dns', detail: 'waiting' },
      { at: at(46_580), event: 'phase-completed', phase: 'dns', durationMs: 46_400 },
      { at: at(46_580), event: 'done' },
      { at: 'not a time', event: 'paused' },
    ];

    it('keeps phase starts and status changes, in ms since the run start', () => {
      assert.deepEqual(marksFromMigrationHistory(history, start), [
        { t: 100, label: 'prepare' },
        { t: 180, label: 'dns' },
        { t: 46_580, label: 'done' },
      ]);
    });

    it('labels failures and rollbacks', () => {
      const marksOut = marksFromMigrationHistory(
        [
          { at: at(5), event: 'phase-failed', phase: 'fence' },
          { at: at(6), event: 'rollback-started', phase: 'fence' },
          { at: at(9), event: 'rolled-back' },
        ],
        start,
      );
      assert.deepEqual(
        marksOut.map((m) => m.label),
        ['fence failed', 'rollback', 'rolled-back'],
      );
    });

    it('reads a phase duration (DNS change → INSYNC) from the log', () => {
      assert.equal(phaseDurationMs(history, 'dns'), 46_400);
      assert.equal(phaseDurationMs(history, 'sync'), undefined);
    });
  });
});
