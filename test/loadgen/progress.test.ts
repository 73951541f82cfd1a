import assert from 'node:assert/strict';
import { createProgress, noProgress, type ProgressStream } from '../../loadgen/load/index.js';
import type { Sample } from '../../loadgen/load-model.js';

function fakeStream(isTTY: boolean): ProgressStream & { written: string[] } {
  const written: string[] = [];
  return { isTTY, written, write: (c: string) => written.push(c) > 0 };
}

function sample(servedBy: Sample['servedBy'], status: number): Sample {
  return { start: 0, end: 1, latencyMs: 1, op: 'read', key: 'k', status, servedBy, epoch: null };
}

describe('progress line', () => {
  it('draws nothing when the stream is not a TTY', () => {
    const stream = fakeStream(false);
    const p = createProgress({ stream });
    assert.equal(p, noProgress);
    p.start();
    p.onSample(sample('n1', 200));
    p.stop();
    assert.deepEqual(stream.written, []);
  });

  it('can be forced off on a TTY and on elsewhere', () => {
    assert.equal(createProgress({ stream: fakeStream(true), enabled: false }), noProgress);
    assert.notEqual(createProgress({ stream: fakeStream(false), enabled: true }), noProgress);
  });

  it('counts done, errors and served by n1 / n2, and ends the line on stop', () => {
    const stream = fakeStream(true);
    const p = createProgress({ stream });
    p.start();
    for (const s of [sample('n1', 200), sample('n1', 404), sample('n2', 200), sample('unknown', 0), sample('none', 503)]) p.onSample(s);
    p.stop();
    const last = stream.written.at(-1)!;
    assert.match(last, /^\r\d+ req\/s {2}5 done {2}3 errors {2}n1 2 {2}n2 1 {2}\d+\.\d s\u001b\[K\n$/u);
    p.stop();
    assert.equal(stream.written.length, 1, 'a second stop draws nothing');
  });

  it('cuts redraws to the terminal width so a wrapped line leaves no row behind; the last line is whole', async () => {
    const stream = Object.assign(fakeStream(true), { columns: 20 });
    const p = createProgress({ stream, intervalMs: 5 });
    p.start();
    p.onSample(sample('n1', 200));
    await new Promise((r) => setTimeout(r, 30));
    p.stop();
    const redraws = stream.written.slice(0, -1);
    assert.ok(redraws.length > 0, 'the timer drew');
    for (const w of redraws) assert.match(w, /^\r.{19}\x1b\[K$/, 'one row, the last column free');
    assert.match(stream.written.at(-1)!, /^\r\d+ req\/s {2}1 done {2}0 errors {2}n1 1 {2}n2 0 {2}\d+\.\d s\x1b\[K\n$/);
  });
});
