/**
 * The fault catalogue: what each kind does, what it hits and how long it lasts. The schedule
 * draws from it; faults/ implements each kind as inject + heal.
 *
 * `shared`: it kills or restarts a service other people's tests use (the ZooKeeper ensemble,
 * Redis, Cassandra from scripts/services.sh). Not in the default selection: ask for it with
 * `--faults` on a machine that is yours.
 * `variant`: the kind needs app servers on that store (`--store cassandra`); the campaign on
 * in-memory stores refuses such kinds, since a restart would disturb the services and test nothing.
 */
export interface FaultKindSpec {
  readonly description: string;
  /** What it is aimed at; the schedule picks the instance. */
  readonly target: 'gateway' | 'zookeeper' | 'control-plane' | 'clients' | 'n2' | 'cassandra' | 'redis';
  /** Range of how long the fault stays before it is healed, in ms. */
  readonly holdMs: readonly [number, number];
  readonly shared: boolean;
  readonly variant?: 'cassandra';
}

export const FAULT_KINDS = {
  'gateway-kill': {
    description: 'kill -9 a gateway process; a new one starts on its port after the hold',
    target: 'gateway',
    holdMs: [300, 3000],
    shared: false,
  },
  'gateway-pause': {
    description: 'SIGSTOP a gateway process, SIGCONT after the hold (past its lease, sometimes past its session)',
    target: 'gateway',
    holdMs: [500, 7000],
    shared: false,
  },
  'gateway-restart': {
    description: 'stop a gateway gracefully (SIGTERM) and start it again at once',
    target: 'gateway',
    holdMs: [0, 0],
    shared: false,
  },
  'gateway-zk-cut': {
    description: "disable a gateway's Toxiproxy proxies to ZooKeeper (its connections are closed) for the hold",
    target: 'gateway',
    holdMs: [1000, 7000],
    shared: false,
  },
  'gateway-zk-blackhole': {
    description: "let no byte through a gateway's Toxiproxy proxies to ZooKeeper (connections stay open) for the hold",
    target: 'gateway',
    holdMs: [1000, 7000],
    shared: false,
  },
  'controlplane-leader-kill': {
    description: 'kill -9 the leading control-plane process; a new one joins the election after the hold',
    target: 'control-plane',
    holdMs: [200, 2000],
    shared: false,
  },
  'client-abort-burst': {
    description: 'a burst of writes whose clients leave after a few ms to the hold (often while the fence holds them)',
    target: 'clients',
    holdMs: [20, 1500],
    shared: false,
  },
  'slow-body-burst': {
    description: 'writes whose bodies trickle in over the hold',
    target: 'clients',
    holdMs: [500, 4000],
    shared: false,
  },
  'websocket-burst': {
    description: 'WebSockets opened through the gateways that keep writing over the hold (across the flip)',
    target: 'clients',
    holdMs: [1000, 5000],
    shared: false,
  },
  'n2-errors': {
    description: "N2's app server answers 503 to everything (health checks too) for the hold",
    target: 'n2',
    holdMs: [300, 3000],
    shared: false,
  },
  'zk-leader-kill': {
    description: 'kill -9 the ZooKeeper leader; the ensemble restarts it after the hold (services.sh up zookeeper)',
    target: 'zookeeper',
    holdMs: [500, 4000],
    shared: true,
  },
  'cassandra-restart': {
    description: 'kill -9 a Cassandra node (N1 or N2); once it is gone, services.sh up cassandra, and it serves again',
    target: 'cassandra',
    holdMs: [0, 2000],
    shared: true,
    variant: 'cassandra',
  },
  'redis-restart': {
    description: 'kill -9 a Redis instance (N1 or N2); once it is gone, services.sh up redis, and it serves again',
    target: 'redis',
    holdMs: [0, 2000],
    shared: true,
    variant: 'cassandra',
  },
} as const satisfies Record<string, FaultKindSpec>;

export type FaultKind = keyof typeof FAULT_KINDS;

export const ALL_FAULT_KINDS = Object.keys(FAULT_KINDS) as FaultKind[];

/** What `--faults` selects when it is not given: every kind that touches only the campaign's own processes. */
export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = ALL_FAULT_KINDS.filter((k) => {
  const spec: FaultKindSpec = FAULT_KINDS[k];
  return !spec.shared && spec.variant === undefined;
});

/** Kinds that hit only gateway processes and their links (the mocha campaign's selection). */
export const GATEWAY_FAULT_KINDS: readonly FaultKind[] = ALL_FAULT_KINDS.filter((k) => FAULT_KINDS[k].target === 'gateway');

export function isFaultKind(s: string): s is FaultKind {
  return Object.hasOwn(FAULT_KINDS, s);
}
