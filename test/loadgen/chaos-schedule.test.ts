import assert from 'node:assert/strict';
import { parseChaosArgs } from '../../loadgen/chaos/chaos-args.js';
import { isChaosError } from '../../loadgen/chaos/chaos-errors.js';
import { CampaignOptionsSchema, parseFaultKinds } from '../../loadgen/chaos/chaos-options.js';
import { ALL_FAULT_KINDS, DEFAULT_FAULT_KINDS, FAULT_KINDS, GATEWAY_FAULT_KINDS } from '../../loadgen/chaos/fault-kinds.js';
import { scheduleFaults, TRIGGER_PHASES } from '../../loadgen/chaos/fault-schedule.js';

const base = { seed: 42, migrations: 20, faultsPerMigration: 3, kinds: DEFAULT_FAULT_KINDS, gateways: 3 };

describe('chaos campaign: fault schedule and options', () => {
  describe('the schedule', () => {
    it('is the same for the same seed and different for another', () => {
      assert.deepEqual(scheduleFaults(base), scheduleFaults(base));
      assert.notDeepEqual(scheduleFaults(base), scheduleFaults({ ...base, seed: 43 }));
    });

    it('draws migration i the same whatever the number of migrations (a short run is a prefix of a long one)', () => {
      assert.deepEqual(scheduleFaults({ ...base, migrations: 5 }), scheduleFaults(base).slice(0, 5));
      assert.deepEqual(
        scheduleFaults({ ...base, first: 7, migrations: 2 }),
        scheduleFaults(base).slice(7, 9),
        '--first reruns migrations alone',
      );
    });

    it('draws K faults per migration from the selected kinds only, with targets, phases and holds in range', () => {
      const s = scheduleFaults({ ...base, migrations: 200, kinds: ['gateway-pause', 'n2-errors'] });
      assert.equal(s.length, 200);
      const faults = s.flatMap((m) => m.faults);
      assert.equal(faults.length, 600);
      for (const f of faults) {
        assert.ok(f.kind === 'gateway-pause' || f.kind === 'n2-errors', f.kind);
        assert.match(f.target, f.kind === 'gateway-pause' ? /^gw-[012]$/ : /^n2$/);
        assert.ok(f.phase in TRIGGER_PHASES, f.phase);
        const [lo, hi] = FAULT_KINDS[f.kind].holdMs;
        assert.ok(f.holdMs >= lo && f.holdMs <= hi, `${f.kind} hold ${f.holdMs}`);
        assert.ok(f.delayMs >= 0 && f.delayMs < 400);
      }
      // every gateway, every phase and both kinds come up in 600 draws
      assert.deepEqual(new Set(faults.filter((f) => f.kind === 'gateway-pause').map((f) => f.target)), new Set(['gw-0', 'gw-1', 'gw-2']));
      assert.deepEqual(new Set(faults.map((f) => f.phase)), new Set(Object.keys(TRIGGER_PHASES)));
      assert.deepEqual(new Set(faults.map((f) => f.kind)), new Set(['gateway-pause', 'n2-errors']));
    });

    it('refuses to draw from no kinds', () => {
      assert.throws(() => scheduleFaults({ ...base, kinds: [] }), RangeError);
    });
  });

  describe('the catalogue', () => {
    it('keeps faults on shared services and the Cassandra variant out of the default selection', () => {
      for (const k of ['zk-leader-kill', 'cassandra-restart', 'redis-restart'] as const) assert.ok(!DEFAULT_FAULT_KINDS.includes(k), k);
      assert.deepEqual(
        DEFAULT_FAULT_KINDS.filter((k) => FAULT_KINDS[k].shared),
        [],
      );
      assert.deepEqual(GATEWAY_FAULT_KINDS, ['gateway-kill', 'gateway-pause', 'gateway-restart', 'gateway-zk-cut', 'gateway-zk-blackhole']);
    });

    it('--faults takes default, all (without the Cassandra variant) or a list, and names unknown kinds', () => {
      assert.deepEqual(parseFaultKinds('default'), [...DEFAULT_FAULT_KINDS]);
      assert.deepEqual(
        parseFaultKinds('all'),
        ALL_FAULT_KINDS.filter((k) => k !== 'cassandra-restart' && k !== 'redis-restart'),
      );
      assert.deepEqual(parseFaultKinds('all', 'cassandra'), ALL_FAULT_KINDS, 'with --store cassandra, all means all');
      assert.deepEqual(parseFaultKinds('gateway-kill, n2-errors,gateway-kill'), ['gateway-kill', 'n2-errors']);
      assert.throws(() => parseFaultKinds('gateway-kill,nope'), /unknown fault kind\(s\) nope/);
    });
  });

  describe('the command line', () => {
    const usage = (argv: string[]): string => {
      try {
        parseChaosArgs(argv);
      } catch (err) {
        assert.ok(isChaosError(err, 'NW_CHAOS_USAGE'), String(err));
        return err.message;
      }
      assert.fail(`accepted ${argv.join(' ')}`);
    };

    it('maps the flags onto the campaign options, with the defaults of the brief', () => {
      const args = parseChaosArgs(['--migrations', '5', '--seed', '9', '--faults', 'gateway-kill', '--out', '/tmp/x']);
      assert.notEqual(args, 'help');
      const o = CampaignOptionsSchema.parse(args);
      assert.deepEqual([o.migrations, o.seed, o.faultsPerMigration, o.faults, o.out, o.gateways], [5, 9, 3, ['gateway-kill'], '/tmp/x', 3]);
      assert.equal(CampaignOptionsSchema.parse(parseChaosArgs(['--migrations', '1', '--seed', '0'])).out, 'results/chaos');
      assert.equal(parseChaosArgs(['--help']), 'help');
    });

    it('--store cassandra runs the app servers on Cassandra and lets the Cassandra and Redis restarts in', () => {
      assert.equal(CampaignOptionsSchema.parse(parseChaosArgs(['--migrations', '1', '--seed', '0'])).store, 'memory');
      const o = CampaignOptionsSchema.parse(
        parseChaosArgs([
          '--migrations',
          '2',
          '--seed',
          '1',
          '--store',
          'cassandra',
          '--faults',
          'cassandra-restart,redis-restart,gateway-kill',
        ]),
      );
      assert.deepEqual([o.store, o.faults], ['cassandra', ['cassandra-restart', 'redis-restart', 'gateway-kill']]);
      const all = CampaignOptionsSchema.parse(
        parseChaosArgs(['--migrations', '2', '--seed', '1', '--store', 'cassandra', '--faults', 'all']),
      );
      assert.ok(all.faults.includes('cassandra-restart') && all.faults.includes('redis-restart'));
      assert.deepEqual(
        CampaignOptionsSchema.parse(parseChaosArgs(['--migrations', '2', '--seed', '1', '--store', 'cassandra'])).faults,
        [...DEFAULT_FAULT_KINDS],
        'restarts of shared services only when asked for',
      );
    });

    it('refuses a missing seed, a non-integer, an unknown flag or kind, and the Cassandra-variant kinds', () => {
      assert.match(usage(['--migrations', '3']), /--migrations and --seed are required/);
      assert.match(usage(['--migrations', '3', '--seed', 'x']), /--seed: expected an integer/);
      assert.match(usage(['--migrations', '3', '--seed', '1', '--bogus']), /bogus/);
      assert.match(usage(['--migrations', '3', '--seed', '1', '--faults', 'meteor']), /unknown fault kind\(s\) meteor/);
      assert.match(
        usage(['--migrations', '3', '--seed', '1', '--faults', 'redis-restart']),
        /need the Cassandra-backed app servers \(--store cassandra\)/,
      );
      assert.match(usage(['--migrations', '3', '--seed', '1', '--store', 'postgres']), /--store: expected memory or cassandra/);
      assert.match(usage(['--migrations', '0', '--seed', '1']), /migrations/);
    });
  });
});
