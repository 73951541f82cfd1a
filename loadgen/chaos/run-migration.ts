import { setTimeout as sleep } from 'node:timers/promises';
import type { MigrationLog, MigrationPlanInput } from '../../controlplane/index.js';
import type { CampaignEnvironment } from './campaign-environment.js';
import type { AppServers } from './environment/app-servers.js';
import { keyPrefix } from './environment/app-keys.js';
import { appHost } from './environment/gateway-fleet.js';
import { MAX_TRIGGER_DELAY_MS, streamSeed, type MigrationSchedule } from './fault-schedule.js';
import type { FaultTargets } from './faults/fault-actions.js';
import { driveFaults } from './faults/fault-driver.js';
import { lostByDesign } from './invariants/acknowledged-writes.js';
import { checkInvariants } from './invariants/check-invariants.js';
import type {
  CoordinatorSnapshot,
  FaultRecord,
  GatewayAppState,
  MigrationEvidence,
  MigrationOutcome,
  TimedEvent,
  Violation,
} from './invariants/evidence.js';
import { checkLeftovers } from './invariants/leftovers.js';
import { checkSameEpoch } from './invariants/same-epoch.js';
import { ChaosLoad } from './load/chaos-load.js';
import type { RequestCounts } from './load/load-recorder.js';
import { isTerminal, MigrationWatch } from './migration-watch.js';

export interface MigrationSettings {
  readonly seed: number;
  /** From submission until it must be done or rolled back. */
  readonly deadlineMs: number;
  readonly barrierTimeoutMs: number;
  readonly writers: number;
  readonly readers: number;
  readonly webSockets: number;
}

/** One migration of the campaign as the report shows it. */
export interface MigrationResult {
  readonly index: number;
  readonly id: string;
  readonly app: string;
  /** not-started: no control plane took it; harness-error: the campaign could not run it (its processes). */
  readonly outcome: MigrationOutcome | { readonly status: 'not-started' | 'harness-error'; readonly error: string };
  readonly faults: readonly FaultRecord[];
  readonly violations: readonly Violation[];
  readonly writes: RequestCounts;
  readonly reads: RequestCounts;
  /** Acknowledged writes N2 took that a rollback dropped (by design without mirrorWritesToN1). */
  readonly lostByDesign: number;
  /** How long the fleet and the coordinator took to settle after the migration (or that they did not). */
  readonly settleMs: number;
}

const now = (): bigint => process.hrtime.bigint();

/** The plan every campaign migration runs: see the campaign docs for why each setting. */
export function campaignPlan(
  id: string,
  app: string,
  apps: Pick<AppServers, 'url' | 'planSync'>,
  barrierTimeoutMs: number,
): MigrationPlanInput {
  return {
    id,
    apps: [app],
    barrierTimeoutMs,
    onBarrierTimeout: 'rollback',
    prepare: { n2HealthUrls: [`${apps.url.n2}/healthz`], healthAttempts: 2 },
    sync: { mode: apps.planSync.mode, hooks: [...apps.planSync.hooks] },
    // N1 gets no copies after the handover, so "no write at N1 after N2's first" is strict
    proxy: { mirrorWritesToN1: false },
    redirect: { enabled: false },
  };
}

function targets(env: CampaignEnvironment, load: ChaosLoad): FaultTargets {
  return {
    gateways: env.gateways,
    zkLinks: env.links,
    controlPlanes: {
      leader: () => env.coordinator.leader(),
      kill: (id) => env.controlPlanes.kill(id),
      ensure: (n) => env.controlPlanes.ensure(n),
    },
    clients: load,
    apps: env.apps,
    shared: env.shared,
    controlPlaneCount: env.options.controlPlanes,
  };
}

function outcomeOf(log: MigrationLog | undefined, elapsedMs: number, deadlineMs: number): MigrationOutcome {
  return {
    status: log?.status ?? 'missing',
    phase: log?.phase,
    error: log?.error ? { code: log.error.code, message: log.error.message } : undefined,
    elapsedMs,
    deadlineMs,
  };
}

/** Restores every process and link a fault may have left broken (a heal that failed, a fault the campaign gave up on). */
async function restoreFleet(env: CampaignEnvironment): Promise<void> {
  for (let slot = 0; slot < env.gateways.size; slot++) await env.links.heal(slot);
  await env.apps.setFault('n2', undefined);
  await env.gateways.restore();
  await env.controlPlanes.ensure(env.options.controlPlanes);
}

/**
 * Waits until the fleet agrees with the coordinator on the app (every live gateway on the state's
 * epoch) and nothing of a dead process is left in the tree (sessions of killed processes expire
 * after the session timeout), or until `timeoutMs`; returns what it read last.
 */
async function settle(
  env: CampaignEnvironment,
  ev: Pick<MigrationEvidence, 'migrationId' | 'app' | 'outcome'>,
  timeoutMs: number,
): Promise<{ tree: CoordinatorSnapshot; gatewayStates: GatewayAppState[]; live: MigrationEvidence['live']; settleMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const live = { gateways: env.gateways.liveMembers(), controlPlanes: env.controlPlanes.live(), dataLayers: env.apps.liveMembers() };
    const tree = await env.coordinator.snapshot(ev.app);
    const gatewayStates = await env.gateways.states(ev.app);
    const probe = { ...ev, tree, live, gatewayStates };
    // A lock is left on purpose after a failed rollback; waiting does not remove it. After any other
    // end it goes: a leader killed between writing the end and removing its lock leaves it to the
    // next leader, elected once the dead one's session expired, so the wait covers that too.
    const leftovers = checkLeftovers(ev.outcome.status === 'failed' ? { ...probe, tree: { ...tree, lock: undefined } } : probe);
    if ((leftovers.length === 0 && checkSameEpoch(probe).length === 0) || Date.now() - t0 > timeoutMs)
      return { tree, gatewayStates, live, settleMs: Date.now() - t0 };
    await sleep(250);
  }
}

/**
 * One migration of the campaign: load through the gateways, the migration submitted to a control
 * plane, its faults injected on their triggers and healed; then the fleet is restored, the
 * campaign waits for it to settle, reads the commit logs, stores, tree and gateway states, and
 * checks every invariant.
 */
export async function runMigration(
  env: CampaignEnvironment,
  schedule: MigrationSchedule,
  app: string,
  s: MigrationSettings,
): Promise<MigrationResult> {
  const id = `${env.runId}-m${schedule.index}`;
  await restoreFleet(env);
  const load = new ChaosLoad({
    gateways: env.gateways.urls().map((url, i) => ({ url, name: `gw-${i}` })),
    host: appHost(app),
    keyPrefix: keyPrefix(app),
    idPrefix: `${env.runId}.m${schedule.index}`,
    seed: streamSeed(s.seed, schedule.index, 'load'),
    writers: s.writers,
    readers: s.readers,
    webSockets: s.webSockets,
    keys: 32,
  });
  await sleep(300);
  const originNs = now();
  const originWallMs = Date.now();
  const watch = new MigrationWatch(env.coordinator, id);
  const faultsDone = driveFaults(targets(env, load), schedule.faults, watch);
  // faults triggered `before` are in place when the migration is submitted
  if (schedule.faults.some((f) => f.phase === 'before')) await sleep(MAX_TRIGGER_DELAY_MS + 100);
  try {
    await env.controlPlanes.submit(campaignPlan(id, app, env.apps, s.barrierTimeoutMs));
  } catch (err) {
    await watch.stop();
    const faults = await faultsDone;
    const rec = await load.stop();
    return {
      index: schedule.index,
      id,
      app,
      outcome: { status: 'not-started', error: (err as Error).message },
      faults,
      violations: [],
      writes: rec.writeCounts,
      reads: rec.reads,
      lostByDesign: 0,
      settleMs: 0,
    };
  }
  let log = await watch.end(s.deadlineMs);
  const elapsedMs = Number(now() - originNs) / 1e6;
  if (!isTerminal(log)) {
    // past its deadline: ask for a rollback so the campaign can go on (the violation stays)
    await env.controlPlanes.abort(id, 'chaos campaign: deadline passed');
    log = await watch.end(s.deadlineMs);
  }
  await watch.stop();
  const faults = await faultsDone;
  // writes keep coming for a moment after the end: a gateway that missed the last state shows up in the logs
  await sleep(500);
  const rec = await load.stop();
  await restoreFleet(env);
  const outcome = outcomeOf(log, elapsedMs, s.deadlineMs);
  const base = { migrationId: id, app, outcome };
  const settled = await settle(env, base, env.options.sessionTimeoutMs * 2 + 5000);
  const prefix = keyPrefix(app);
  const [n1Commits, n2Commits, n1Store, n2Store] = await Promise.all([
    env.apps.commits('n1', prefix),
    env.apps.commits('n2', prefix),
    env.apps.snapshot('n1', prefix),
    env.apps.snapshot('n2', prefix),
  ]);
  const events: TimedEvent[] = (log?.history ?? []).map((e) => ({
    atNs: (originNs + BigInt(Math.round((Date.parse(e.at) - originWallMs) * 1e6))).toString(),
    event: e.event,
    phase: e.phase,
    detail: e.detail ?? (e.barrier && !e.barrier.ok ? `barrier missing ${JSON.stringify(e.barrier.missing)}` : undefined),
  }));
  const evidence: MigrationEvidence = {
    ...base,
    originNs: originNs.toString(),
    mirrorWritesToN1: false,
    commits: { n1: n1Commits, n2: n2Commits },
    writes: rec.writes,
    stores: { n1: n1Store, n2: n2Store },
    tree: settled.tree,
    live: settled.live,
    gatewayStates: settled.gatewayStates,
    events,
    faults,
  };
  return {
    index: schedule.index,
    id,
    app,
    outcome,
    faults,
    violations: checkInvariants(evidence),
    writes: rec.writeCounts,
    reads: rec.reads,
    lostByDesign: lostByDesign(evidence).size,
    settleMs: settled.settleMs,
  };
}
