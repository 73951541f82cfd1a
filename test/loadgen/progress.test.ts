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
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the line ends with the terminal escape that erases to its end
    assert.match(last, /^\r\d+ req\/s {2}5 done {2}3 errors {2}n1 2 {2}n2 1 {2}\d+\.\d s\u001b\[K\n$/u);
    p.stop();
    assert.equal(stream.written.length, 1, 'a second stop draws nothing');
  });
});
