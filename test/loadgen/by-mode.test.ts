import assert from 'node:assert/strict';
import { countByMode } from '../../loadgen/analysis/by-mode.js';
import type { Sample } from '../../loadgen/load-model.js';
import { modesTable } from '../../loadgen/report/markdown-report.js';

const sample = (mode: string | undefined, servedBy: Sample['servedBy'], epoch: number | null, status = 200): Sample => ({
  start: 0,
  end: 1,
  latencyMs: 1,
  op: 'read',
  key: 'k',
  status,
  servedBy,
  epoch,
  ...(mode === undefined ? {} : { mode }),
});

describe('requests by gateway mode', () => {
  it('counts each mode in the order of a migration, with the side that answered and the epochs', () => {
    const samples = [
      sample('proxy', 'n2', 4),
      sample('serve', 'n1', 1),
      sample('mirror', 'n1', 2),
      sample('proxy', 'n2', 5),
      sample(undefined, 'unknown', null, 0),
      sample('fence', 'none', 3, 503),
    ];
    assert.deepEqual(countByMode(samples), [
      { mode: 'serve', total: 1, failed: 0, n1: 1, n2: 0, epochs: { min: 1, max: 1 } },
      { mode: 'mirror', total: 1, failed: 0, n1: 1, n2: 0, epochs: { min: 2, max: 2 } },
      { mode: 'fence', total: 1, failed: 1, n1: 0, n2: 0, epochs: { min: 3, max: 3 } },
      { mode: 'proxy', total: 2, failed: 0, n1: 0, n2: 2, epochs: { min: 4, max: 5 } },
      { mode: 'unknown', total: 1, failed: 1, n1: 0, n2: 0, epochs: null },
    ]);
    const run = { title: 't', startedAtEpochMs: 0, samples, marks: [], handoverAt: 0 };
    assert.match(modesTable(run), /\| proxy \| 2 \| 0 \| 0 \| 2 \| 4–5 \|/);
    assert.equal(modesTable({ ...run, samples: [sample(undefined, 'n1', null)] }), '', 'no table without the header');
  });
});
