// overhead-rtt.svg (overhead against N2's round-trip time, both strategies, the paper's Table 2 beside),
// the overhead table's p99 columns, and how the chart collects the runs of a directory.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overheadPointsIn } from '../../loadgen/experiments/overhead-command.js';
import { overheadTable } from '../../loadgen/report/markdown-report.js';
import { type OverheadPoint, renderOverheadRttChart, symlog } from '../../loadgen/report/overhead-rtt-chart.js';
import { deepText, findAll, parseXml, type XmlElement } from '../support/xml-well-formed.js';

const row = (normalMs: number, migrationMs: number, normalP99Ms?: number, migrationP99Ms?: number) => ({
  readRatioPercent: 20,
  normalMs,
  migrationMs,
  ...(normalP99Ms === undefined ? {} : { normalP99Ms }),
  ...(migrationP99Ms === undefined ? {} : { migrationP99Ms }),
});

const POINTS: OverheadPoint[] = [
  { strategy: 'copy-on-write', rttMs: 0, row: row(2, 3, 5, 8) },
  { strategy: 'copy-on-write', rttMs: 20, row: row(2, 44, 5, 110) },
  { strategy: 'replicate', rttMs: 0, row: row(2, 2.04, 5, 5.2) },
  { strategy: 'replicate', rttMs: 20, row: row(2, 1.98, 5, 4.9) },
];

const circles = (root: XmlElement, panel: string) =>
  findAll(root, (e) => e.name === 'g' && (e.attrs.class ?? '') === `panel ${panel}`).flatMap((g) => findAll(g, (e) => e.name === 'circle'));

describe('overhead against N2’s round-trip time: chart and table', () => {
  it('draws each run as a point per panel (mean, p99) at its RTT, higher overhead higher up, one line per strategy', () => {
    const svg = renderOverheadRttChart(POINTS);
    const root = parseXml(svg);
    assert.equal(root.name, 'svg');
    for (const panel of ['mean', 'p99']) {
      const pts = circles(root, panel);
      assert.equal(pts.length, 4, panel);
      const at = (strategy: string, rtt: number) =>
        pts.find((c) => c.attrs['data-strategy'] === strategy && c.attrs['data-rtt'] === `${rtt}`)!;
      assert.ok(Number(at('copy-on-write', 20).attrs.cy) < Number(at('copy-on-write', 0).attrs.cy), `${panel}: 2100 % above 50 %`);
      assert.ok(
        Number(at('replicate', 20).attrs.cy) > Number(at('replicate', 0).attrs.cy),
        `${panel}: a negative overhead below a positive one`,
      );
      assert.ok(Number(at('replicate', 20).attrs.cx) > Number(at('replicate', 0).attrs.cx), 'RTT grows to the right');
    }
    assert.equal(
      circles(root, 'mean').find((c) => c.attrs['data-strategy'] === 'copy-on-write' && c.attrs['data-rtt'] === '20')!.attrs['data-value'],
      '2100',
    );
    assert.equal(findAll(root, (e) => e.name === 'polyline').length, 4, 'a line per strategy in each panel');
    const text = deepText(root);
    assert.match(text, /copy-on-write · 20 % reads/);
    assert.match(text, /replicate · 20 % reads/);
    assert.match(text, /N2’s round-trip time \(ms\)/);
  });

  it('prints the paper’s Table 2 beside, and the goal and the paper’s overhead at the same read share as reference lines', () => {
    const root = parseXml(renderOverheadRttChart(POINTS, { goalPercent: 5 }));
    const cells = findAll(root, (e) => (e.attrs.class ?? '') === 'paper-cell').map((e) => e.text);
    assert.deepEqual(cells, ['20 %', '107.2', '115.8', '8.0 %', '50 %', '100.2', '103.3', '3.1 %', '80 %', '94.0', '94.2', '0.2 %']);
    const refs = findAll(root, (e) => (e.attrs.class ?? '') === 'reference').map((e) => deepText(e));
    assert.deepEqual(refs, ['goal 5 %', 'the paper, 20 % reads: 8.0 %', 'goal 5 %']);
  });

  it('leaves out the p99 point of a run without p99 figures, and still renders one run alone', () => {
    const root = parseXml(renderOverheadRttChart([{ strategy: 'replicate', rttMs: 5, row: row(2, 2.1) }]));
    assert.equal(circles(root, 'mean').length, 1);
    assert.equal(circles(root, 'p99').length, 0);
    assert.ok(symlog(-5) < 0 && symlog(0) === 0 && symlog(1000) > symlog(100));
  });

  it('the overhead table adds p99 and failed columns when the run measured them', () => {
    const md = overheadTable([{ ...row(2, 2.1, 5, 6), failedRequests: 0 }]);
    assert.match(md, /\| reads \| paper N .* \| ours p99 N \| ours p99 M \| ours p99 \(M−N\)\/N \| failed \|/);
    assert.match(
      md,
      /\| 20 % \| 107\.2 ms \| 115\.8 ms \| 8\.0 % \| 2\.0 ms \| 2\.1 ms \| 5\.0 % \| 5\.0 ms \| 6\.0 ms \| 20\.0 % \| 0 \|/,
    );
    assert.doesNotMatch(overheadTable([row(2, 3)]), /p99/, 'older runs keep the paper’s columns only');
  });

  it('collects every run with an RTT in a directory as chart points (a direct run is not on the RTT axis)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-overhead-rtt-'));
    const summary = (strategy: string, n2RttMs: number | null) => ({ strategy, n2RttMs, rows: [row(2, 3, 5, 8)] });
    writeFileSync(join(dir, 'overhead-replicate-rtt20ms.json'), JSON.stringify(summary('replicate', 20)));
    writeFileSync(join(dir, 'overhead-copy-on-write-rtt0ms.json'), JSON.stringify(summary('copy-on-write', 0)));
    writeFileSync(join(dir, 'overhead-copy-on-write-direct.json'), JSON.stringify(summary('copy-on-write', null)));
    writeFileSync(join(dir, 'overhead.json'), '{}');
    const points = await overheadPointsIn(dir);
    assert.deepEqual(
      points.map((p) => `${p.strategy}@${p.rttMs}`),
      ['copy-on-write@0', 'replicate@20'],
    );
  });
});
