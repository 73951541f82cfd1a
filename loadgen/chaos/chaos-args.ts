import { parseArgs } from 'node:util';
import { ChaosError } from './chaos-errors.js';
import {
  CampaignOptionsSchema,
  type CampaignOptionsInput,
  parseFaultKinds,
  STORE_VARIANTS,
  type StoreVariantName,
} from './chaos-options.js';
import { ALL_FAULT_KINDS, DEFAULT_FAULT_KINDS, FAULT_KINDS } from './fault-kinds.js';

export const USAGE = `usage: npm run chaos -- --migrations N --seed S [options]

Migrations under load with faults drawn from a catalogue, on the real services
(ZooKeeper and Toxiproxy from scripts/services.sh; with --store cassandra also
Cassandra and Redis): N1 and N2 app servers, gateways and control planes as
processes of their own, a fresh chroot. Every migration is checked against the
app servers' commit logs, the coordinator tree and the gateways' states. The
same seed draws the same fault schedule.

  --migrations N              how many migrations (one app each)
  --seed S                    0..2^32-1
  --first I                   start at migration I of the seed's schedule (reruns one: --first I --migrations 1)
  --faults-per-migration K    faults drawn per migration (default 3)
  --faults LIST               default | all | kind,kind,...  (default: default)
  --store memory|cassandra    what N1 and N2 store in (default memory); cassandra: the services'
                              Cassandra and Redis with the real data sync (needs both up)
  --out DIR                   where report.json and report.md go (default results/chaos)
  --gateways G                gateway processes (default 3)
  --workers W                 worker processes per gateway (default 1: none); with W > 1 the faults hit
                              the primary, which holds the session and the lease
  --control-planes C          control-plane processes (default 2)
  --apps-per-round A          gateways (and Cassandra app servers) restart with new apps every A migrations (default 10)
  --deadline-ms MS            a migration must end within this (default 120000)
  --writers W, --web-sockets S  load (default 6 writers, 2 WebSockets; 2 readers)
  --help

fault kinds (default: ${DEFAULT_FAULT_KINDS.join(', ')}):
${ALL_FAULT_KINDS.map((k) => {
  const s: { description: string; shared: boolean; variant?: string } = FAULT_KINDS[k];
  const notes = `${s.shared ? ' [shared service: not in default]' : ''}${s.variant ? ` [needs --store ${s.variant}]` : ''}`;
  return `  ${k.padEnd(26)} ${s.description}${notes}`;
}).join('\n')}

exit codes: 0 no invariant violated, 1 violations (or the campaign failed), 2 usage`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ChaosError('NW_CHAOS_USAGE', `--${name}: expected an integer, got "${v}"`);
  return n;
}

/** The campaign options from a command line; throws NW_CHAOS_USAGE with the reason. */
export function parseChaosArgs(argv: readonly string[]): CampaignOptionsInput | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        migrations: { type: 'string' },
        first: { type: 'string' },
        seed: { type: 'string' },
        'faults-per-migration': { type: 'string' },
        faults: { type: 'string' },
        store: { type: 'string' },
        out: { type: 'string' },
        gateways: { type: 'string' },
        workers: { type: 'string' },
        'control-planes': { type: 'string' },
        'apps-per-round': { type: 'string' },
        'deadline-ms': { type: 'string' },
        writers: { type: 'string' },
        'web-sockets': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new ChaosError('NW_CHAOS_USAGE', (err as Error).message);
  }
  if (values.help) return 'help';
  const s = (k: string): string | undefined => values[k] as string | undefined;
  if (s('migrations') === undefined || s('seed') === undefined)
    throw new ChaosError('NW_CHAOS_USAGE', '--migrations and --seed are required');
  const store = s('store');
  if (store !== undefined && !(STORE_VARIANTS as readonly string[]).includes(store))
    throw new ChaosError('NW_CHAOS_USAGE', `--store: expected ${STORE_VARIANTS.join(' or ')}, got "${store}"`);
  let faults: string[] | undefined;
  try {
    faults = s('faults') === undefined ? undefined : parseFaultKinds(s('faults')!, store as StoreVariantName | undefined);
  } catch (err) {
    throw new ChaosError('NW_CHAOS_USAGE', `--faults: ${(err as Error).message}`);
  }
  const raw = {
    migrations: int('migrations', s('migrations')),
    first: int('first', s('first')),
    seed: int('seed', s('seed')),
    faultsPerMigration: int('faults-per-migration', s('faults-per-migration')),
    faults,
    store,
    out: s('out'),
    gateways: int('gateways', s('gateways')),
    workers: int('workers', s('workers')),
    controlPlanes: int('control-planes', s('control-planes')),
    appsPerRound: int('apps-per-round', s('apps-per-round')),
    deadlineMs: int('deadline-ms', s('deadline-ms')),
    writers: int('writers', s('writers')),
    webSockets: int('web-sockets', s('web-sockets')),
  };
  const input = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as CampaignOptionsInput;
  const parsed = CampaignOptionsSchema.safeParse(input);
  if (!parsed.success)
    throw new ChaosError('NW_CHAOS_USAGE', parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
  return input;
}
