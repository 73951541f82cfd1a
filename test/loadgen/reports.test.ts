import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderJsonReport } from '../../loadgen/report/json-report.js';
import { renderMarkdownReport } from '../../loadgen/report/markdown-report.js';
import type { SwitchoverRun } from '../../loadgen/report/report-model.js';
import { labelRows } from '../../loadgen/report/label-rows.js';
import { niceTicks, renderSvgChart, xmlEscape } from '../../loadgen/report/svg-chart.js';
import { ASCENT, DESCENT, textWidth } from '../../loadgen/report/text-metrics.js';
import { writeReports } from '../../loadgen/report/write-reports.js';
import { SYNTHETIC_HANDOVER_AT, SYNTHETIC_MARKS, syntheticRun } from '../support/synthetic-run.js';
import { deepText, findAll, parseXml } from '../support/xml-well-formed.js';

function run(overrides: Partial<SwitchoverRun> = {}): SwitchoverRun {
  return {
    title: 'Switchover <N1 → N2> & friends',
    startedAtEpochMs: Date.UTC(2026, 0, 1),
    samples: syntheticRun({ failures: 3 }),
    marks: SYNTHETIC_MARKS,
    handoverAt: SYNTHETIC_HANDOVER_AT,
    flipMs: 41,
    writeHoldMs: 270,
    dnsToInsyncMs: 46_400,
    lostWrites: { checked: 50, ambiguous: 2, lost: [], ok: true },
    trials: [
      { dnsToInsyncMs: 46_000, firstN2AfterMs: 3270, failedRequests: 0, lostWrites: 0 },
      { dnsToInsyncMs: 47_400, firstN2AfterMs: 3280, failedRequests: 0, lostWrites: 0 },
      { dnsToInsyncMs: 45_800, firstN2AfterMs: 3250, failedRequests: 1, lostWrites: 0 },
    ],
    overhead: [
      { readRatioPercent: 20, normalMs: 21.0, migrationMs: 22.1 },
      { readRatioPercent: 50, normalMs: 20.2, migrationMs: 20.7 },
    ],
    ...overrides,
  };
}

describe('reports', () => {
  describe('the XML checker the SVG test relies on', () => {
    const bad = ['<a>', '<a></b>', '<a x=1/>', '<a x="1" x="2"/>', '<a>1 < 2</a>', '<a>R&D</a>', '<a/><b/>', '<a y="<"/>', 'text<a/>'];
    for (const src of bad) it(`rejects ${src}`, () => assert.throws(() => parseXml(src), /not well-formed/));
    it('accepts a declaration, comments, entities and self-closing tags', () => {
      const root = parseXml('<?xml version="1.0"?>\n<!-- c --><a k=\'v\'><b t="&quot;x&quot;"/>1 &lt; 2 &amp; &#65;</a>\n');
      assert.equal(root.name, 'a');
      assert.equal(root.children[0]?.attrs.t, '"x"');
      assert.equal(root.text, '1 < 2 & A');
    });
  });

  describe('svg chart', () => {
    it('is well-formed XML with an svg root, a title and both panels', () => {
      const root = parseXml(renderSvgChart(run()));
      assert.equal(root.name, 'svg');
      assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
      const title = findAll(root, (e) => e.attrs.class === 'title')[0];
      assert.equal(title && deepText(title).trim(), 'Switchover <N1 → N2> & friends');
      assert.equal(deepText(root.children.find((c) => c.name === 'title')!), 'Switchover <N1 → N2> & friends', 'its accessible name');
      assert.equal(findAll(root, (e) => (e.attrs.class ?? '').startsWith('panel')).length, 2);
    });

    it('has one marker per phase mark, carrying its label, and one handover marker', () => {
      const root = parseXml(renderSvgChart(run()));
      const markers = findAll(root, (e) => e.attrs.class === 'phase-mark');
      assert.deepEqual(
        markers.map((m) => deepText(m).trim()),
        SYNTHETIC_MARKS.map((m) => m.label),
      );
      assert.deepEqual(
        markers.map((m) => m.attrs['data-label']),
        SYNTHETIC_MARKS.map((m) => m.label),
      );
      for (const m of markers) assert.equal(m.children.filter((c) => c.name === 'line').length, 1);
      assert.equal(findAll(root, (e) => e.attrs.class === 'handover').length, 1);
    });

    it('draws N1 and N2 in distinct colours with a legend, failures when there are some, and axes with units', () => {
      const root = parseXml(renderSvgChart(run()));
      const n1 = findAll(root, (e) => e.attrs.class === 'series n1')[0];
      const n2 = findAll(root, (e) => e.attrs.class === 'series n2')[0];
      assert.ok(n1 && n2);
      assert.notEqual(n1.attrs.stroke, n2.attrs.stroke);
      assert.ok(findAll(root, (e) => e.attrs.class === 'series p99 n2').length === 1);
      const legend = findAll(root, (e) => e.attrs.class === 'legend')[0];
      assert.ok(legend);
      const legendText = deepText(legend);
      for (const label of ['served by N1', 'served by N2', 'failed requests', 'handover command (T)'])
        assert.ok(legendText.includes(label), label);
      assert.ok(findAll(root, (e) => e.attrs.class === 'failed').length > 0);
      const text = deepText(root);
      for (const unit of [
        'throughput (responses/s)',
        'p99 latency (ms)',
        'time since the run started (s) · rates and p99 per 250 ms window',
      ])
        assert.ok(text.includes(unit), unit);
      assert.equal(findAll(parseXml(renderSvgChart(run({ samples: syntheticRun() }))), (e) => e.attrs.class === 'failed').length, 0);
    });

    it('escapes mark labels and survives an empty run', () => {
      const svg = renderSvgChart(run({ samples: [], marks: [{ t: 10, label: 'a<b & "c"' }], handoverAt: 0 }));
      const markers = findAll(parseXml(svg), (e) => e.attrs.class === 'phase-mark');
      assert.equal(markers.length, 1);
      assert.equal(markers[0] && deepText(markers[0]).trim(), 'a<b & "c"');
      assert.equal(xmlEscape(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
    });

    it('phase labels at colliding x never overlap, and no marker line crosses another label', () => {
      // Marks 150 ms apart (about 10 px: not one cluster) with labels far wider, T on one of them, and
      // a long label at the right edge (pulled left into the chart).
      const labels = ['migrate command', 'prepare', 'sync (copying the data)', 'fence', 'proxy', 'redirect', 'dns'];
      const marks = [...labels.map((label, i) => ({ t: 2000 + i * 150, label })), { t: 13_950, label: 'done: the migration is over' }];
      const root = parseXml(renderSvgChart(run({ marks, handoverAt: 2450 })));
      const groups = findAll(root, (e) => e.attrs.class === 'phase-mark' || e.attrs.class === 'handover');
      const texts = groups.flatMap((g) => g.children.filter((c) => c.name === 'text'));
      assert.deepEqual(texts.map((t) => deepText(t)).sort(), [...labels, 'done: the migration is over', 'T (handover)'].sort());
      // Each label's box as a browser draws it: from x, the baseline and the font, measured in DejaVu Sans.
      const boxes = texts.map((t) => {
        const x = Number(t.attrs.x) + Number(t.attrs.dx ?? 0);
        const y = Number(t.attrs.y);
        const size = Number(t.attrs['font-size']);
        const width = textWidth(deepText(t), size, t.attrs['font-weight'] === 'bold');
        return { text: deepText(t), left: x, right: x + width, top: y - ASCENT * size, bottom: y + DESCENT * size };
      });
      const plotTop = Number(findAll(root, (e) => e.name === 'rect' && e.attrs.fill === 'none')[0]!.attrs.y);
      for (const [i, a] of boxes.entries()) {
        assert.ok(a.bottom <= plotTop, `${a.text} stays above the plot`);
        assert.ok(a.left >= 0 && a.right <= Number(root.attrs.width), `${a.text} stays inside the chart`);
        for (const b of boxes.slice(i + 1)) {
          const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
          assert.ok(apart, `"${a.text}" and "${b.text}" overlap: ${JSON.stringify([a, b])}`);
        }
      }
      const lines = groups.map((g) => {
        const line = g.children.find((c) => c.name === 'line')!;
        const own = g.children.find((c) => c.name === 'text');
        return { x: Number(line.attrs.x1), top: Number(line.attrs.y1), bottom: Number(line.attrs.y2), own: own && deepText(own) };
      });
      for (const l of lines)
        for (const b of boxes) {
          if (b.text === l.own) continue;
          const crosses = l.x > b.left && l.x < b.right && l.top < b.bottom && l.bottom > b.top;
          assert.ok(!crosses, `the line at x=${l.x} crosses "${b.text}"`);
        }
      assert.ok(
        boxes.some((b) => b.top < boxes[0]!.top || b.top > boxes[0]!.top),
        'the labels took more than one row',
      );
    });

    it('wraps a title too long for the chart onto lines that fit it', () => {
      const title =
        'Northwest switchover N1 → N2 (3 trials, 4 gateways, ZooKeeper ensemble, Route 53 (moto), Cassandra store; chart: last trial)';
      const root = parseXml(renderSvgChart(run({ title })));
      const lines = findAll(root, (e) => e.attrs.class === 'title');
      assert.ok(lines.length > 1);
      assert.equal(lines.map((l) => deepText(l)).join(' '), title);
      for (const l of lines) assert.ok(textWidth(deepText(l), Number(l.attrs['font-size']), true) <= Number(root.attrs.width) - 40);
    });

    it('staggers labels into rows only where their x ranges collide', () => {
      const at = (x: number, width = 50) => ({ x: x + 3, width, lineX: x });
      assert.deepEqual(labelRows([at(0), at(100), at(200)]), [0, 0, 0], 'apart: one row');
      assert.deepEqual(labelRows([at(0), at(20), at(40)]), [2, 1, 0], 'colliding: a staircase, the leftmost on top');
      assert.deepEqual(labelRows([at(0), at(20), at(300), at(320)]), [1, 0, 1, 0], 'two clusters side by side share the rows');
      // A line may not run through a label of a lower row: the left label climbs over it.
      assert.deepEqual(labelRows([at(100, 10), at(0, 300)]), [0, 1]);
    });

    it('picks 1-2-5 ticks', () => {
      assert.deepEqual(niceTicks(0, 14, 10), [0, 2, 4, 6, 8, 10, 12, 14]);
      assert.deepEqual(niceTicks(0, 300, 5), [0, 100, 200, 300]);
    });
  });

  describe('markdown', () => {
    const md = renderMarkdownReport(run());

    it('has the switchover table with every figure', () => {
      for (const row of [
        '| first N2 response | T + ',
        '| last N1 response | T + ',
        '| flip (all members acked) | 41 ms |',
        '| write hold | 270 ms |',
        '| failed requests | 3 (sync: 3) |',
        '| lost writes | 0 of 50 keys |',
        '| DNS change → INSYNC | 46.4 s |',
        '| no N1 write after first N2 write | held |',
      ]) {
        assert.ok(md.includes(row), row);
      }
    });

    it('has the trials table with min / mean / stdev / max', () => {
      assert.ok(md.includes('| figure | n | min | mean | stdev | max | mean ± stdev |'));
      assert.ok(md.includes('| DNS change → INSYNC | 3 | 45.8 s | 46.4 s | 0.87 s | 47.4 s | 46.4 s ± 0.87 s |'), md);
    });

    it("has the overhead table beside the paper's Table 2 as (M−N)/N", () => {
      assert.ok(md.includes('| 20 % | 107.2 ms | 115.8 ms | 8.0 % | 21.0 ms | 22.1 ms | 5.2 % |'), md);
      assert.ok(md.includes('| 50 % | 100.2 ms | 103.3 ms | 3.1 % | 20.2 ms | 20.7 ms | 2.5 % |'));
      assert.ok(md.includes('| 80 % | 94.0 ms | 94.2 ms | 0.2 % | – | – | – |'));
    });

    it('leaves out trials and overhead when there are none, and says when writes were not checked', () => {
      const bare = renderMarkdownReport(run({ trials: undefined, overhead: undefined, lostWrites: undefined }));
      assert.ok(!bare.includes('## Trials'));
      assert.ok(!bare.includes('## Latency overhead'));
      assert.ok(bare.includes('| lost writes | not checked |'));
    });
  });

  it('json report holds the raw figures and is valid JSON', () => {
    const parsed = JSON.parse(renderJsonReport(run())) as {
      switchover: { failedTotal: number; dnsToInsyncMs: number; writeSafety: { ok: boolean } };
      series: unknown[];
      samples: number;
    };
    assert.equal(parsed.switchover.failedTotal, 3);
    assert.equal(parsed.switchover.dnsToInsyncMs, 46_400);
    assert.equal(parsed.switchover.writeSafety.ok, true);
    assert.ok(parsed.series.length > 0);
    assert.equal(parsed.samples, run().samples.length);
  });

  it('writeReports writes report.json, report.md and chart.svg', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nw-report-'));
    try {
      const paths = await writeReports(join(dir, 'nested'), run());
      assert.deepEqual(
        [paths.json, paths.markdown, paths.chart].map((p) => p.slice(dir.length)),
        ['/nested/report.json', '/nested/report.md', '/nested/chart.svg'],
      );
      parseXml(await readFile(paths.chart, 'utf8'));
      JSON.parse(await readFile(paths.json, 'utf8'));
      assert.ok((await readFile(paths.markdown, 'utf8')).includes('![throughput and p99 latency per deployment](chart.svg)'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
