import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { createLogger } from '../../platform/logger.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { type PhaseStepName, pausesMigration, type SyncContext, type SyncHook } from '../../controlplane/migration/migration-hooks.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { createSyncHooks, type SyncHooks } from '../../controlplane/sync/sync-hooks.js';
import { syncConfigSchema } from '../../controlplane/sync/sync-config.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { isSyncError } from '../../datasync/errors.js';
import { parseReplicationInfo, type ReplicationInfo } from '../../datasync/cache/replication/replication-info.js';
import { eventually } from '../support/eventually.js';
import { startRedisServer, type RedisServerProcess } from '../support/redis-server-process.js';
import { certDir, createTestCa } from '../support/test-certificates.js';

type ReplicateOptions = Record<string, unknown>;

/**
 * The replicate strategy's steps driven one by one against two redis-server processes of this
 * test's own (the shared n1/n2 keep their roles): what each step leaves N1 and N2 as, what it
 * refuses, and that each one run again (a new leader re-running a phase) keeps what the first
 * run did and the writes made since.
 */
describe('cache replicate strategy: the steps on real Redis servers', function () {
  this.timeout(60_000);
  let n1: RedisServerProcess;
  let n2: RedisServerProcess;
  let c1: Redis;
  let c2: Redis;
  let hooks: SyncHooks;
  let notes: string[];

  const info = async (c: Redis): Promise<ReplicationInfo> => parseReplicationInfo(await c.info('replication'));

  function cacheHook(env: NodeJS.ProcessEnv = {}): SyncHook {
    const sync = syncConfigSchema.parse({ cache: { n1: { host: n1.host, port: n1.port }, n2: { host: n2.host, port: n2.port } } });
    hooks = createSyncHooks(sync, { coordinator: new EmbeddedCoordinator(new EmbeddedStore()), logger: createLogger('silent'), env });
    return hooks.hooks.get('cache')!;
  }

  function context(replicate: ReplicateOptions = {}): SyncContext {
    const plan = parsePlan({ apps: ['shop'], sync: { mode: 'none', hooks: ['cache'], cache: { strategy: 'replicate', replicate } } });
    return {
      migrationId: 'm-steps',
      plan,
      log: { plan } as MigrationLog,
      signal: new AbortController().signal,
      progress: () => undefined,
      note: async (detail) => void notes.push(detail),
      setDataMode: () => Promise.reject(new Error('not in these steps')),
      confirmDataLayers: () => Promise.reject(new Error('not in these steps')),
    };
  }

  async function step(hook: SyncHook, name: 'sync' | PhaseStepName, ctx: SyncContext): Promise<Record<string, unknown> | undefined> {
    return name === 'sync' ? hook(ctx) : hook[name]!(ctx);
  }

  /** The rollback's step; `n2TookWrites`: the rollback comes from proxy or later. */
  async function rollback(hook: SyncHook, ctx: SyncContext, n2TookWrites: boolean): Promise<Record<string, unknown> | undefined> {
    return hook.atRollback!(ctx, n2TookWrites);
  }

  async function writeKeys(c: Redis, prefix: string, n: number): Promise<Map<string, string>> {
    const written = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      await c.set(`${prefix}${i}`, `v${i}`);
      written.set(`${prefix}${i}`, `v${i}`);
    }
    return written;
  }

  async function missing(c: Redis, written: ReadonlyMap<string, string>): Promise<string[]> {
    const keys = [...written.keys()];
    const values = keys.length ? await c.mget(...keys) : [];
    return keys.filter((k, i) => values[i] !== written.get(k));
  }

  beforeEach(async () => {
    notes = [];
    [n1, n2] = await Promise.all([startRedisServer({ name: 'n1' }), startRedisServer({ name: 'n2' })]);
    [c1, c2] = await Promise.all([n1.client(), n2.client()]);
  });
  afterEach(async () => {
    await hooks?.close();
    await Promise.allSettled([n1?.stop(), n2?.stop()]);
  });

  it('prepare → done: N2 follows and drains, is promoted, N1 follows N2 and is released at done', async () => {
    const hook = cacheHook();
    const ctx = context();
    const before = await writeKeys(c1, 'before:', 200);
    await step(hook, 'atPrepare', ctx);
    const afterPrepare = await info(c2);
    assert.equal(afterPrepare.role, 'replica');
    assert.equal(afterPrepare.masterPort, n1.port);
    const synced = (await step(hook, 'sync', ctx)) as { syncMs: number; n1Offset: number };
    assert.deepEqual(await missing(c2, before), [], 'the initial sync brought every key');
    const during = await writeKeys(c1, 'during:', 100);
    const gate = (await step(hook, 'beforeFence', ctx)) as { lagBytes: number };
    assert.ok(gate.lagBytes <= 1_048_576);
    const fenced = (await step(hook, 'atFence', ctx)) as { drainedToOffset: number; n2Offset: number };
    assert.ok(fenced.n2Offset >= fenced.drainedToOffset, JSON.stringify(fenced));
    assert.ok(fenced.drainedToOffset >= synced.n1Offset);
    // Read as N2's app servers would after the fence: every write N1 had acknowledged.
    assert.deepEqual(await missing(c2, during), []);
    await step(hook, 'beforeProxy', ctx);
    assert.equal((await info(c2)).role, 'master');
    await c2.set('at-n2', 'x');
    await step(hook, 'atProxy', ctx);
    const n1Following = await info(c1);
    assert.equal(n1Following.role, 'replica');
    assert.equal(n1Following.masterPort, n2.port);
    assert.equal(n1Following.linkUp, true);
    const n2Writes = await writeKeys(c2, 'proxy:', 50);
    await eventually(async () => assert.deepEqual(await missing(c1, n2Writes), []), { timeoutMs: 5000, message: "N1 gets N2's writes" });
    assert.equal(await c1.get('at-n2'), 'x');
    await assert.rejects(c1.set('at-n1', 'y'), /READONLY/, 'N1 follows: its own writes are refused');
    await step(hook, 'atDone', ctx);
    assert.equal((await info(c1)).role, 'master', 'released at done');
    assert.equal(await c1.get('proxy:49'), 'v49', 'N1 keeps its copy');
    assert.ok(notes.some((n) => n.includes('promoted')));
  });

  it('under copy-on-write every replicate step does nothing', async () => {
    const hook = cacheHook();
    const plan = parsePlan({ apps: ['shop'], sync: { mode: 'none', hooks: ['cache'] } });
    const ctx = { ...context(), plan, log: { plan } as MigrationLog };
    for (const s of ['atPrepare', 'beforeFence', 'atFence', 'beforeProxy', 'atProxy', 'atDone'] as const)
      assert.equal(await step(hook, s, ctx), undefined, s);
    assert.equal(await rollback(hook, ctx, true), undefined);
    assert.equal((await info(c2)).role, 'master');
  });

  it('prepare refuses an N1 that is a replica, and an N2 holding keys unless discardN2Data', async () => {
    const hook = cacheHook();
    await c2.set('precious', '1');
    await assert.rejects(step(hook, 'atPrepare', context()), (err: unknown) => isSyncError(err, 'NW_SYNC_CACHE_REPLICA_NOT_EMPTY'));
    assert.equal((await info(c2)).role, 'master', 'N2 untouched');
    assert.equal(await c2.get('precious'), '1');
    await step(hook, 'atPrepare', context({ discardN2Data: true }));
    await eventually(async () => assert.equal(await c2.get('precious'), null), { timeoutMs: 5000, message: 'N2 synced from N1' });
    // N1 made a replica of N2 by hand: the strategy needs N1 to be the master it copies from.
    await c2.call('REPLICAOF', 'NO', 'ONE');
    await c1.call('REPLICAOF', n2.host, String(n2.port));
    await assert.rejects(step(hook, 'atPrepare', context()), (err: unknown) => isSyncError(err, 'NW_SYNC_CACHE_REPLICATION_TOPOLOGY'));
  });

  it('each step run again keeps what the first run did and the writes since (a new leader re-runs the phase)', async () => {
    const hook = cacheHook();
    const ctx = context();
    for (const s of ['atPrepare', 'sync', 'beforeFence', 'atFence'] as const) {
      await step(hook, s, ctx);
      await step(hook, s, ctx);
    }
    await step(hook, 'beforeProxy', ctx);
    // N2 took a write (the proxy flip went out before the old leader died): the re-run must not re-attach N2.
    await c2.set('n2-after-flip', '1');
    const again = (await step(hook, 'beforeProxy', ctx)) as { already?: boolean };
    assert.equal(again.already, true);
    assert.equal((await info(c2)).role, 'master');
    assert.equal(await c2.get('n2-after-flip'), '1');
    await step(hook, 'atProxy', ctx);
    await step(hook, 'atProxy', ctx);
    await step(hook, 'beforeProxy', ctx); // proxy re-run once N1 follows N2
    assert.equal((await info(c2)).role, 'master');
    await eventually(async () => assert.equal(await c1.get('n2-after-flip'), '1'), { timeoutMs: 5000, message: 'N1 follows N2' });
    const syncsBefore = (await c2.info('stats')).match(/sync_full:(\d+)/)?.[1];
    // A rollback interrupted after N1's promotion (before N2 followed it): N1 took a write since.
    await c1.call('REPLICAOF', 'NO', 'ONE');
    await c1.set('n1-after-promotion', '1');
    await rollback(hook, ctx, true);
    assert.equal((await info(c1)).role, 'master');
    assert.equal(await c1.get('n1-after-promotion'), '1', "the re-run did not make N1 follow N2 again (that would drop N1's write)");
    const n2Now = await info(c2);
    assert.equal(n2Now.role, 'replica');
    assert.equal(n2Now.masterPort, n1.port);
    await rollback(hook, ctx, true);
    assert.equal((await info(c1)).role, 'master');
    await eventually(async () => assert.equal(await c2.get('n1-after-promotion'), '1'), { timeoutMs: 5000, message: 'N2 follows N1' });
    assert.equal((await c2.info('stats')).match(/sync_full:(\d+)/)?.[1], syncsBefore, 'no full sync on N2 (partial resyncs only)');
  });

  it('a rollback after N2 took writes brings them to N1 before promoting it, whatever step it was stopped in', async () => {
    const hook = cacheHook();
    const ctx = context();
    for (const s of ['atPrepare', 'sync', 'beforeFence', 'atFence', 'beforeProxy'] as const) await step(hook, s, ctx);
    // Stopped between N2's promotion and N1 following it; N2 took writes meanwhile.
    const n2Writes = await writeKeys(c2, 'n2:', 100);
    const figures = (await rollback(hook, ctx, true)) as { atOffset: number };
    assert.ok(figures.atOffset > 0);
    assert.equal((await info(c1)).role, 'master');
    assert.deepEqual(await missing(c1, n2Writes), [], 'N1 has every write N2 took before it serves again');
    assert.equal((await info(c2)).masterPort, n1.port, 'N2 follows N1');
  });

  it('a rollback before N2 took writes leaves N1 in charge and puts a promoted N2 back to following N1', async () => {
    const hook = cacheHook();
    const ctx = context();
    for (const s of ['atPrepare', 'sync', 'atFence', 'beforeProxy'] as const) await step(hook, s, ctx);
    await c1.set('n1-still-master', '1');
    await rollback(hook, ctx, false);
    assert.equal((await info(c1)).role, 'master');
    await eventually(async () => assert.equal(await c2.get('n1-still-master'), '1'), { timeoutMs: 5000, message: 'N2 follows N1 again' });
    assert.equal((await info(c2)).role, 'replica');
  });

  it('the lag limit: a stopped replica is over it after lagWaitMs (a lag-limit failure); resumed, it passes', async () => {
    const hook = cacheHook();
    const ctx = context({ lagLimit: { maxBytes: 2000 }, lagWaitMs: 1200 });
    for (const s of ['atPrepare', 'sync'] as const) await step(hook, s, ctx);
    n2.pause();
    try {
      await writeKeys(c1, 'while-stopped:', 200);
      const t0 = performance.now();
      const err = await step(hook, 'beforeFence', ctx).then(
        () => assert.fail('the gate passed with the replica stopped'),
        (e: unknown) => e,
      );
      assert.ok(isSyncError(err, 'NW_SYNC_CACHE_LAG_LIMIT'), String(err));
      assert.equal(pausesMigration(err), true, 'onLagLimit: pause (the default)');
      assert.ok(performance.now() - t0 >= 1200, 'it waited lagWaitMs first');
      assert.ok(
        notes.some((n) => n.includes('over the limit')),
        notes.join('\n'),
      );
      // In time, too: a stopped replica is behind by as long as it has been stopped.
      const inTime = context({ lagLimit: { maxMs: 300 }, lagWaitMs: 800, onLagLimit: 'rollback' });
      await assert.rejects(
        step(hook, 'beforeFence', inTime),
        (e: unknown) => isSyncError(e, 'NW_SYNC_CACHE_LAG_LIMIT') && !pausesMigration(e),
      );
    } finally {
      n2.resume();
    }
    const passed = (await step(hook, 'beforeFence', ctx)) as { lagBytes: number };
    assert.ok(passed.lagBytes <= 2000);
  });

  it('the drain at the fence returns only once N2 has processed all N1 had: not while the replica is stopped', async () => {
    const hook = cacheHook();
    const ctx = context();
    for (const s of ['atPrepare', 'sync'] as const) await step(hook, s, ctx);
    n2.pause();
    let resumedAt = Number.POSITIVE_INFINITY;
    let written: Map<string, string>;
    try {
      // Writes N1 acknowledged before the fence; the replica has none of them yet.
      const pipeline = c1.pipeline();
      written = new Map(Array.from({ length: 5000 }, (_, i) => [`fenced:${i}`, `v${i}`.padEnd(64, '.')] as const));
      for (const [k, v] of written) pipeline.set(k, v);
      await pipeline.exec();
      // The fence's drain starts with the replica still stopped; it is resumed 300 ms later.
      const resume = setTimeout(() => {
        resumedAt = performance.now();
        n2.resume();
      }, 300);
      const drained = (await step(hook, 'atFence', ctx)) as { drainedToOffset: number; n2Offset: number };
      const returnedAt = performance.now();
      clearTimeout(resume);
      assert.ok(returnedAt >= resumedAt, 'the drain waited for the stopped replica');
      assert.ok(drained.n2Offset >= drained.drainedToOffset);
    } finally {
      n2.resume();
    }
    assert.deepEqual(await missing(c2, written), []);
  });

  it('a replica restarted empty is attached again by the next step and resynced: nothing N1 had is lost', async () => {
    const hook = cacheHook();
    const ctx = context();
    const written = await writeKeys(c1, 'k:', 300);
    for (const s of ['atPrepare', 'sync'] as const) await step(hook, s, ctx);
    await n2.kill();
    for (const [k, v] of await writeKeys(c1, 'k2:', 10)) written.set(k, v);
    await n2.restart();
    c2 = await n2.client();
    assert.equal((await info(c2)).role, 'master', 'a restarted server forgets REPLICAOF');
    await step(hook, 'beforeFence', ctx);
    await step(hook, 'atFence', ctx);
    assert.deepEqual(await missing(c2, written), []);
    assert.ok(
      notes.some((n) => n.includes('restarted')),
      notes.join('\n'),
    );
  });

  it('the link authenticates as the ACL user of the plan; a wrong password never links (a typed timeout)', async () => {
    await n1.stop();
    n1 = await startRedisServer({ name: 'n1-acl', args: ['--user', 'replicator', 'on', '>s3cret', '+psync', '+replconf', '+ping'] });
    c1 = await n1.client();
    const hook = cacheHook({ NW_TEST_REPL_PASSWORD: 's3cret', NW_TEST_WRONG_PASSWORD: 'nope' });
    const wrong = context({ auth: { user: 'replicator', passwordEnv: 'NW_TEST_WRONG_PASSWORD' }, syncTimeoutMs: 1500 });
    await step(hook, 'atPrepare', wrong);
    await assert.rejects(step(hook, 'sync', wrong), (e: unknown) => isSyncError(e, 'NW_SYNC_CACHE_SYNC_TIMEOUT'));
    // Prepare run again with the right password: the replica's next connection attempt (every second) uses it.
    const ctx = context({ auth: { user: 'replicator', passwordEnv: 'NW_TEST_REPL_PASSWORD' } });
    await step(hook, 'atPrepare', ctx);
    await step(hook, 'sync', ctx);
    const replicaConn = String(await c1.call('CLIENT', 'LIST', 'TYPE', 'replica'));
    assert.match(replicaConn, /user=replicator/);
    const unset = context({ auth: { user: 'replicator', passwordEnv: 'NW_TEST_UNSET' } });
    await assert.rejects(step(hook, 'atPrepare', unset), (e: unknown) => isSyncError(e, 'NW_SYNC_CONFIG_INVALID'));
  });

  it('replicates over TLS: the plan switches the replica to a TLS link that checks N1 against its CA file', async () => {
    const ca = await createTestCa();
    const files = certDir();
    try {
      const caFile = files.file('ca.crt', ca.certPem);
      const server = files.write('n1', await ca.issue(['localhost', '127.0.0.1']));
      const client = files.write('n2', await ca.issue(['localhost', '127.0.0.1'], { clientAuth: true }));
      await Promise.all([n1.stop(), n2.stop()]);
      n1 = await startRedisServer({
        name: 'n1-tls',
        tls: true,
        args: ['--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile, '--tls-ca-cert-file', caFile],
      });
      // N2 has TLS set up (its own certificate) but trusts no CA yet: the plan gives the CA, and the client
      // certificate N2 shows N1 (which checks clients by default).
      const own = files.write('n2-server', await ca.issue(['localhost', '127.0.0.1']));
      n2 = await startRedisServer({ name: 'n2-tls', args: ['--tls-cert-file', own.certFile, '--tls-key-file', own.keyFile] });
      [c1, c2] = await Promise.all([n1.client(), n2.client()]);
      const hook = cacheHook();
      const tls = { caCertFile: caFile, certFile: client.certFile, keyFile: client.keyFile };
      const ctx = context({ tls, n1Address: { host: n1.host, port: n1.tlsPort }, syncTimeoutMs: 10_000 });
      await c1.set('over-tls', 'yes');
      await step(hook, 'atPrepare', ctx);
      await step(hook, 'sync', ctx);
      assert.equal(await c2.get('over-tls'), 'yes');
      assert.equal(await c2.config('GET', 'tls-replication').then((r) => (r as string[])[1]), 'yes');
      assert.equal((await info(c2)).masterPort, n1.tlsPort, "linked to N1's TLS port (a plain link there never comes up)");
    } finally {
      files.remove();
    }
  });
});
