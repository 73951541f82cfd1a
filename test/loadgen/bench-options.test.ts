import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseBenchOptions, USAGE, type BenchOptions } from '../../loadgen/bench/bench-options.js';

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

  it('runs the HTTPS and h2 targets by default, --quick too', () => {
    for (const o of [parse([]), parse(['--quick'])])
      for (const t of ['gateway-raw-tls', 'nginx-1w-tls', 'gateway-h2', 'h2-floor', 'nginx-1w-h2'] as const)
        assert.ok(o.targets.includes(t), t);
  });

  it('runs the three floors by default (node:http, llhttp, TCP), --quick too', () => {
    for (const o of [parse([]), parse(['--quick'])])
      for (const t of ['floor', 'llhttp-floor', 'tcp-pipe'] as const) assert.ok(o.targets.includes(t), t);
    assert.match(USAGE, /llhttp-floor/);
  });

  it('reloads 20 times, one a second at 1000 req/s by SIGHUP; --quick 3 times at 500 req/s; --reloads 0 skips it', () => {
    const full = parse([]);
    assert.deepEqual([full.reloads, full.reloadIntervalS, full.reloadRate, full.reloadVia, full.reloadWorkers], [20, 1, 1000, 'sighup', 1]);
    const quick = parse(['--quick']);
    assert.deepEqual([quick.reloads, quick.reloadIntervalS, quick.reloadRate], [3, 0.5, 500]);
    assert.equal(parse(['--reloads', '0']).reloads, 0);
    assert.equal(parse(['--reload-via', 'admin']).reloadVia, 'admin');
    assert.throws(() => parse(['--reload-via', 'telepathy']), /reloadVia/);
  });

  it('gives h2 10 sessions of 5 streams: the 50 connections of HTTP/1.1', () => {
    const o = parse(['--quick']);
    assert.equal(o.h2Sessions * o.h2Streams, o.connections);
    assert.deepEqual([parse(['--h2-sessions', '2', '--h2-streams', '100']).h2Sessions, parse(['--h2-streams', '100']).h2Streams], [2, 100]);
  });

  it('loads saturation with autocannon unless --generator wrk or BENCH_GENERATOR=wrk says so; the flag beats the environment', () => {
    assert.equal(parse([]).generator, 'autocannon');
    assert.equal(parse(['--quick', '--generator', 'wrk']).generator, 'wrk');
    assert.equal(parse([], { BENCH_GENERATOR: 'wrk' }).generator, 'wrk');
    assert.equal(parse(['--generator', 'autocannon'], { BENCH_GENERATOR: 'wrk' }).generator, 'autocannon');
  });

  it('rejects an unknown generator, naming the option', () => {
    assert.throws(() => parse(['--generator', 'ab']), /invalid options:\n {2}generator: /);
    assert.throws(() => parse([], { BENCH_GENERATOR: 'wrk2' }), /generator: /);
  });

  it('lists the new options in --help', () => {
    for (const flag of [
      '--h2-sessions',
      '--h2-streams',
      '--reloads',
      '--reload-rate',
      '--reload-interval',
      '--reload-via',
      '--reload-workers',
      '--generator',
    ])
      assert.ok(USAGE.includes(flag), flag);
    assert.match(USAGE, /nginx-1w-h2/);
    assert.match(USAGE, /BENCH_GENERATOR/);
  });
});
