import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseBenchOptions, type BenchOptions } from '../../loadgen/bench/bench-options.js';

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): BenchOptions {
  const o = parseBenchOptions(argv, env);
  assert.notEqual(o, 'help');
  return o as BenchOptions;
}

describe('proxy bench options', () => {
  it('runs 3 saturation rounds and 5 fixed-rate rounds by default, 1 of each with --quick', () => {
    const full = parse([]);
    assert.equal(full.rounds, 3);
    assert.equal(full.fixedRounds, 5);
    const quick = parse(['--quick']);
    assert.equal(quick.rounds, 1);
    assert.equal(quick.fixedRounds, 1);
  });

  it('lets a flag beat the environment, and the environment beat the default', () => {
    assert.equal(parse([], { BENCH_FIXED_ROUNDS: '7' }).fixedRounds, 7);
    assert.equal(parse(['--fixed-rounds', '2'], { BENCH_FIXED_ROUNDS: '7' }).fixedRounds, 2);
  });

  it('names the flag of a value that is not a number or out of range', () => {
    assert.throws(() => parse(['--fixed-rounds', 'many']), /--fixed-rounds must be a number/);
    assert.throws(() => parse(['--fixed-rounds', '0']), /fixedRounds/);
  });
});
