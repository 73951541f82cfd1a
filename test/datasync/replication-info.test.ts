import assert from 'node:assert/strict';
import { follows, parseKeyCount, parseReplicationInfo, promotedFrom, reached } from '../../datasync/cache/replication/replication-info.js';
import { ReplicationLagMeter, withinLimit } from '../../datasync/cache/replication/replication-lag.js';

// As Redis 7.0 prints them (INFO replication of a master with one replica, and of that replica).
const MASTER = [
  '# Replication',
  'role:master',
  'connected_slaves:1',
  'slave0:ip=127.0.0.1,port=43075,state=online,offset=683,lag=0',
  'master_failover_state:no-failover',
  'master_replid:1bf891eded5e5aa21a09f826c0c1f5b1d3f0851b',
  'master_replid2:0000000000000000000000000000000000000000',
  'master_repl_offset:697',
  'second_repl_offset:-1',
  '',
].join('\r\n');
const REPLICA = [
  '# Replication',
  'role:slave',
  'master_host:127.0.0.1',
  'master_port:35027',
  'master_link_status:up',
  'master_last_io_seconds_ago:0',
  'master_sync_in_progress:0',
  'slave_read_repl_offset:697',
  'slave_repl_offset:697',
  'master_replid:1bf891eded5e5aa21a09f826c0c1f5b1d3f0851b',
  'master_replid2:0000000000000000000000000000000000000000',
  'master_repl_offset:697',
  '',
].join('\r\n');

describe('cache replication: INFO replication and the lag meter', () => {
  it('reads a master, its replica lines, and a replica', () => {
    const m = parseReplicationInfo(MASTER);
    assert.equal(m.role, 'master');
    assert.equal(m.masterReplOffset, 697);
    assert.deepEqual(m.replicas, [{ ip: '127.0.0.1', port: 43075, state: 'online', offset: 683 }]);
    assert.equal(m.masterHost, undefined);
    const r = parseReplicationInfo(REPLICA);
    assert.equal(r.role, 'replica');
    assert.equal(r.linkUp, true);
    assert.equal(r.syncInProgress, false);
    assert.equal(r.replicaOffset, 697);
    assert.equal(follows(r, { host: '127.0.0.1', port: 35027 }), true);
    assert.equal(follows(r, { host: '127.0.0.1', port: 35028 }), false);
    assert.equal(reached(r, m.replid, 697), true);
    assert.equal(reached(r, m.replid, 698), false);
    assert.equal(reached(r, 'another history', 1), false);
    assert.equal(parseKeyCount('# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0\r\ndb3:keys=5,expires=1,avg_ttl=9\r\n'), 17);
  });

  it('a promoted replica is told from a restarted server by its previous history', () => {
    const n1 = parseReplicationInfo(MASTER);
    const promoted = parseReplicationInfo(
      MASTER.replace(/master_replid:\w+/, 'master_replid:ffff').replace(/master_replid2:\w+/, `master_replid2:${n1.replid}`),
    );
    const restarted = parseReplicationInfo(MASTER.replace(/master_replid:\w+/, 'master_replid:eeee'));
    assert.equal(promotedFrom(promoted, n1), true);
    assert.equal(promotedFrom(restarted, n1), false);
  });

  it('lag in time: 0 when caught up, the age of the newest sample the replica reached, unknown before one exists', () => {
    let now = 0;
    const meter = new ReplicationLagMeter(() => now);
    assert.deepEqual(meter.observe('h', 100, 'h', 100), { bytes: 0, ms: 0, msKnown: true, masterOffset: 100, replicaOffset: 100 });
    now = 100;
    const first = meter.observe('h', 200, 'h', 150);
    assert.equal(first.bytes, 50);
    assert.equal(first.msKnown, true, 'the sample at offset 100 (t=0) is reached');
    assert.equal(first.ms, 100);
    now = 200;
    const second = meter.observe('h', 300, 'h', 250);
    assert.equal(second.ms, 100, 'the sample at offset 200 (t=100) is reached');
    // A replica that stalls: no sample is as old as where it is, and the lower bound grows.
    const stalled = new ReplicationLagMeter(() => now);
    now = 1000;
    const s1 = stalled.observe('h', 500, 'h', 400);
    assert.equal(s1.msKnown, false);
    assert.equal(withinLimit(s1, { maxMs: 10_000 }), false, 'unknown time is over a time limit');
    assert.equal(withinLimit(s1, { maxBytes: 100 }), true, 'the bytes alone are within 100');
    now = 4000;
    assert.equal(stalled.observe('h', 600, 'h', 400).ms, 3000);
    assert.equal(stalled.observe('h', 600, 'other', 600).bytes, undefined, 'another history: unknown');
    assert.equal(withinLimit(stalled.observe('h', 600, undefined, undefined), { maxBytes: 1e9 }), false);
  });
});
