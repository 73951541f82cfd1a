import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isValidHost } from '../../gateway/request-host.js';
import { RoutingTable } from '../../gateway/state/routing-table.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const VALUES = 256;
const LONG = 64 * 1024;

/** A flat string of `length` letters, distinct for each `i`. */
function longHost(i: number, length: number): string {
  const b = Buffer.alloc(length, 'a');
  b.write(i.toString(36).padStart(6, '0'), length - 6, 'latin1');
  return b.toString('latin1');
}

/** Heap bytes still held after `fill` ran and everything it made but the caches' content is garbage. */
function retainedBy(fill: () => void): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  fill();
  gc();
  return process.memoryUsage().heapUsed - before;
}

/**
 * isValidHost and RoutingTable.lookup remember their results per Host value, at most 256 values
 * each. A hostile client picks the values, as long as the head limit lets them be
 * (limits.maxHeaderBytes, up to 1 MiB): what is remembered must not keep that memory.
 */
describe('host caches: bounded in bytes, not only in entries', () => {
  const limit = 2 * 1024 * 1024;

  it('isValidHost keeps no long Host value', () => {
    const held = retainedBy(() => {
      for (let i = 0; i < VALUES; i++) assert.equal(isValidHost(longHost(i, LONG)), true);
    });
    assert.ok(held < limit, `${VALUES} Host values of ${LONG} bytes left ${held} bytes held`);
  });

  it('RoutingTable.lookup keeps no long Host value', () => {
    const table = new RoutingTable([]);
    const held = retainedBy(() => {
      for (let i = 0; i < VALUES; i++) assert.equal(table.lookup(longHost(i, LONG)), undefined);
    });
    assert.ok(held < limit, `${VALUES} Host values of ${LONG} bytes left ${held} bytes held`);
  });

  it('still answers the same for a value seen before', () => {
    const table = new RoutingTable([]);
    for (const v of ['shop.test', 'shop.test:1@evil.test', longHost(1, 300)]) {
      const first = [isValidHost(v), table.lookup(v)];
      assert.deepEqual([isValidHost(v), table.lookup(v)], first);
    }
  });
});
