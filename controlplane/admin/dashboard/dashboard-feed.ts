import type { Logger } from '../../../platform/logger.js';
import type { ControlPlane, FleetStatus } from '../../control-plane.js';
import { isControlError } from '../../errors.js';
import type { MemberStatus } from '../../live-members.js';
import { TERMINAL, type LogEvent, type MigrationLog } from '../../migration/migration-log.js';
import { FleetHealth, type FleetView } from './fleet-view.js';
import { eventsSince } from './timeline-cursor.js';
import { TrafficMeter, type TrafficView } from './traffic-meter.js';

/** A new part of a migration's timeline, with where the migration stands. */
export interface TimelineUpdate extends Pick<MigrationLog, 'id' | 'status' | 'phase' | 'phaseStatus' | 'updatedAt' | 'error'> {
  readonly apps: readonly string[];
  /** True: `events` is the whole history (replace); false: append them. */
  readonly reset: boolean;
  readonly events: readonly LogEvent[];
}

/** What the dashboard's event stream carries; `type` is the SSE event name. */
export type FeedEvent =
  | { readonly type: 'fleet'; readonly data: FleetView }
  | { readonly type: 'timeline'; readonly data: TimelineUpdate }
  | { readonly type: 'traffic'; readonly data: TrafficView }
  | { readonly type: 'problem'; readonly data: { readonly at: string; readonly code: string; readonly message: string } };

/** What the feed reads: the fleet's status (with a watch) and migration logs. */
export type FeedSource = Pick<ControlPlane, 'status' | 'getMigration'>;

export interface FeedOptions {
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
  /** How often the gateways' /metrics are read (1000). */
  readonly trafficIntervalMs?: number;
  /** What each rate covers (2000). */
  readonly trafficWindowMs?: number;
}

/** Finished migrations whose timelines are kept besides the running ones: the newest few. */
const FINISHED_SHOWN = 5;
/** Traffic readings a new viewer gets at once, for its sparklines (a minute at the default interval). */
const TRAFFIC_KEPT = 60;
/** A re-read of the fleet without a watch firing: members' ack lag grows with time alone, and a watch lost with a session is re-set. */
const BACKSTOP_MS = 5000;
/** Changes often come in bursts (a flip writes a state, then every member acks): one read covers a burst. */
const DEBOUNCE_MS = 50;

type Subscriber = (e: FeedEvent) => void;

function migrationsShown(ms: FleetStatus['migrations']): string[] {
  const running = ms.filter((m) => !TERMINAL.has(m.status)).map((m) => m.id);
  const finished = ms
    .filter((m) => TERMINAL.has(m.status))
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
    .slice(0, FINISHED_SHOWN)
    .map((m) => m.id);
  return [...running, ...finished];
}

/**
 * The live dashboard's data, shared by every open stream: the fleet (members and their health,
 * apps with mode, epoch and acks, migrations), each shown migration's timeline as events are
 * appended, and every second the traffic read from the gateways' /metrics. It runs only while
 * someone watches. The fleet is read with a coordinator watch on every node read (members, their
 * documents, app states, acks, locks, migration logs), so a change is sent as it happens; a new
 * viewer first gets everything as it stands.
 */
export class DashboardFeed {
  private readonly subscribers = new Set<Subscriber>();
  private running = false;
  private health = new FleetHealth();
  private meter: TrafficMeter | undefined;
  private fleet: FleetView | undefined;
  private members: readonly MemberStatus[] = [];
  private readonly timelines = new Map<string, TimelineUpdate>();
  private traffic: TrafficView[] = [];
  private refreshing: Promise<void> | undefined;
  private again = false;
  private debounce: NodeJS.Timeout | undefined;
  private backstop: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private sampling = false;
  /** One function for every watch: the coordinators keep a listener once per node, however often it is set. */
  private readonly changed = (): void => {
    if (!this.running || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, DEBOUNCE_MS);
  };

  constructor(
    private readonly source: FeedSource,
    private readonly opts: FeedOptions = {},
  ) {}

  /** Sends `fn` everything as it stands, then every change; returns the function that stops it. */
  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    if (!this.running) this.start();
    else this.replay(fn);
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.stop();
    };
  }

  /** Stops reading; every subscriber is dropped. */
  close(): void {
    this.subscribers.clear();
    this.stop();
  }

  private replay(fn: Subscriber): void {
    if (this.fleet) fn({ type: 'fleet', data: this.fleet });
    for (const t of this.timelines.values()) fn({ type: 'timeline', data: { ...t, reset: true } });
    for (const t of this.traffic) fn({ type: 'traffic', data: t });
  }

  private broadcast(e: FeedEvent): void {
    for (const fn of this.subscribers) fn(e);
  }

  private start(): void {
    this.running = true;
    this.health = new FleetHealth();
    const interval = this.opts.trafficIntervalMs ?? 1000;
    this.meter = new TrafficMeter(this.opts.fetch ?? fetch, this.opts.trafficWindowMs ?? 2000, Math.max(interval, 1000));
    void this.refresh();
    this.backstop = setInterval(() => void this.refresh(), BACKSTOP_MS);
    this.ticker = setInterval(() => void this.sampleTraffic(), interval);
  }

  private stop(): void {
    this.running = false;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    clearInterval(this.backstop);
    clearInterval(this.ticker);
    this.fleet = undefined;
    this.members = [];
    this.timelines.clear();
    this.traffic = [];
    this.meter = undefined;
  }

  /** One read at a time; a change during a read asks for one more after it. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.readFleet();
      } while (this.again && this.running);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private problem(err: unknown, what: string): void {
    const code = isControlError(err) ? err.code : 'NW_CP_INTERNAL';
    this.opts.logger?.warn('controlplane.dashboard.read_failed', { what, code, err });
    this.broadcast({ type: 'problem', data: { at: new Date().toISOString(), code, message: `${what}: ${(err as Error).message}` } });
  }

  private async readFleet(): Promise<void> {
    if (!this.running) return;
    let status: FleetStatus;
    try {
      status = await this.source.status(this.changed);
    } catch (err) {
      return this.problem(err, 'reading the fleet');
    }
    if (!this.running) return;
    this.members = status.members;
    this.fleet = this.health.view(status);
    this.broadcast({ type: 'fleet', data: this.fleet });
    const shown = migrationsShown(status.migrations);
    for (const id of this.timelines.keys()) if (!shown.includes(id)) this.timelines.delete(id);
    for (const id of shown) {
      const summary = status.migrations.find((m) => m.id === id);
      const known = this.timelines.get(id);
      if (known && summary && known.updatedAt === summary.updatedAt) continue;
      let log: MigrationLog;
      try {
        log = await this.source.getMigration(id);
      } catch (err) {
        this.problem(err, `reading migration ${id}`);
        continue;
      }
      if (!this.running) return;
      const step = eventsSince(known?.events, log.history);
      const head = {
        id,
        status: log.status,
        phase: log.phase,
        phaseStatus: log.phaseStatus,
        updatedAt: log.updatedAt,
        apps: log.plan.apps,
        ...(log.error ? { error: log.error } : {}),
      };
      this.timelines.set(id, { ...head, reset: true, events: log.history });
      this.broadcast({ type: 'timeline', data: { ...head, ...step } });
    }
  }

  private async sampleTraffic(): Promise<void> {
    const meter = this.meter;
    if (!meter || this.sampling) return;
    this.sampling = true;
    try {
      const view = await meter.sample(this.members);
      if (!this.running || meter !== this.meter) return;
      this.traffic.push(view);
      if (this.traffic.length > TRAFFIC_KEPT) this.traffic.shift();
      this.broadcast({ type: 'traffic', data: view });
    } catch (err) {
      this.problem(err, 'reading the gateways');
    } finally {
      this.sampling = false;
    }
  }
}
