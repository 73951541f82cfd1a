import type { Coordinator, Watcher } from '../platform/coordinator/coordinator.js';
import { CoordinatorError } from '../platform/coordinator/coordinator-errors.js';
import type { Logger } from '../platform/logger.js';
import { layout, type AckInfo, type AckRefusal, type MemberInfo } from '../protocol/coordinator-paths.js';
import { ackInfoOf, logInvalidDocuments, memberInfoOf, type InvalidDocumentReport } from './coordinator-documents.js';

export interface BarrierTarget {
  readonly app: string;
  readonly epoch: number;
}

export interface MissingAck {
  readonly member: string;
  readonly app: string;
  /** Epoch the member last acked, or null if it never acked. */
  readonly ackedEpoch: number | null;
}

/** A member the barrier waits on that refused the target epoch (or a later one) of an app. */
export interface BarrierRefusal extends AckRefusal {
  readonly member: string;
  readonly app: string;
}

/** A member's ack of a target (at or past its epoch), as the barrier read it last: with what the member reported. */
export interface MemberAck {
  readonly member: string;
  readonly kind: MemberInfo['kind'];
  readonly app: string;
  readonly ack: AckInfo;
}

export interface BarrierReport {
  readonly ok: boolean;
  readonly elapsedMs: number;
  readonly targets: readonly BarrierTarget[];
  /** Live members that had to ack, at the end. */
  readonly members: readonly string[];
  readonly missing: readonly MissingAck[];
  /** Members present when the barrier started whose sessions ended before it finished. */
  readonly departed: readonly string[];
  /** Every ack that counted, sorted by member and app. */
  readonly acked: readonly MemberAck[];
}

export interface BarrierOptions {
  readonly timeoutMs: number;
  /** Which member kinds must ack (default gateways and data layers). */
  readonly kinds?: readonly MemberInfo['kind'][];
  /** Fallback re-check period in case a watch is lost (ms). */
  readonly pollMs?: number;
  /** Where a member or ack document that does not match the protocol is reported (NW_CP_DOCUMENT_INVALID); it is skipped. */
  readonly logger?: Logger;
}

/** What the barrier knows about one target app's acks. */
interface AckView {
  /** Highest epoch any target asks of this app: an ack at or past it need not be read again. */
  readonly goal: number;
  /** Children of acks/<app> at the last read. */
  listed: ReadonlySet<string>;
  /** Each listed member's ack document when its node was last read (null: missing or unreadable). */
  readonly acks: Map<string, AckInfo | null>;
  /** The list must be read again (its watch fired, or a poll). */
  listChanged: boolean;
  /** Ack nodes whose watch fired since they were last read. */
  readonly changed: Set<string>;
  readonly onList: Watcher;
  /** One watcher per ack node, so re-arming a watch never adds a second listener. */
  readonly onAck: Map<string, Watcher>;
}

/**
 * The barrier's picture of the fleet, kept between wake-ups so that a watch
 * that fires costs only the reads it concerns: the member list, one app's ack
 * list, or one ack node. Every read re-arms its watch (ZooKeeper registers it
 * atomically with the read, so no change between a read and its watch is
 * missed). A watch only marks what it concerns; `refresh` consumes the marks
 * before reading, so a change during a refresh is read by the next one.
 */
class FleetView {
  private live = new Set<string>();
  private initial: ReadonlySet<string> | undefined;
  /** Info of live members (null: the node vanished or does not match the protocol, so it need not ack). */
  private readonly info = new Map<string, MemberInfo | null>();
  private readonly views = new Map<string, AckView>();
  private membersChanged = true;
  private wake: () => void = () => undefined;
  private readonly onMembers: Watcher = () => {
    this.membersChanged = true;
    this.wake();
  };

  constructor(
    private readonly c: Coordinator,
    private readonly kinds: ReadonlySet<MemberInfo['kind']>,
    targets: readonly BarrierTarget[],
    private readonly invalid: InvalidDocumentReport,
  ) {
    const goals = new Map<string, number>();
    for (const t of targets) goals.set(t.app, Math.max(goals.get(t.app) ?? t.epoch, t.epoch));
    for (const [app, goal] of goals) {
      const view: AckView = {
        goal,
        listed: new Set(),
        acks: new Map(),
        listChanged: true,
        changed: new Set(),
        onList: () => {
          view.listChanged = true;
          this.wake();
        },
        onAck: new Map(),
      };
      this.views.set(app, view);
    }
  }

  /** Resolves when a watch fires after this call. */
  nextWake(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Safety net for a lost watch: read the lists and every ack not yet at its goal again. */
  rereadAll(): void {
    this.membersChanged = true;
    for (const view of this.views.values()) {
      view.listChanged = true;
      for (const [m, ack] of view.acks) if (ack?.epoch === undefined || ack.epoch < view.goal) view.changed.add(m);
    }
  }

  /**
   * Brings the picture up to date in at most two steps of parallel reads: the lists whose watches
   * fired, then the infos of new members and the acks not yet read (of members whose info is still
   * unknown too, so a new member costs no third step).
   */
  async refresh(): Promise<void> {
    const lists: Promise<void>[] = [];
    if (this.membersChanged) {
      this.membersChanged = false;
      lists.push(this.readMembers());
    }
    for (const [app, view] of this.views) {
      if (!view.listChanged) continue;
      view.listChanged = false;
      lists.push(this.readAckList(app, view));
    }
    await Promise.all(lists);

    const nodes: Promise<void>[] = [];
    for (const m of this.live) if (!this.info.has(m)) nodes.push(this.readInfo(m));
    for (const [app, view] of this.views) {
      for (const m of view.changed) view.acks.delete(m);
      view.changed.clear();
      for (const m of view.listed) {
        if (!view.acks.has(m) && this.live.has(m) && this.mayServe(m, app)) nodes.push(this.readAck(app, view, m));
      }
    }
    await Promise.all(nodes);
  }

  /**
   * Live members that must ack, sorted, what each still owes, and which of those refused it: a
   * refusal of the target epoch or a later one (the member skipped to a state it refused) means
   * no ack of the target comes without a newer state. An older refusal does not count.
   */
  verdict(targets: readonly BarrierTarget[]): { members: string[]; missing: MissingAck[]; refused: BarrierRefusal[]; acked: MemberAck[] } {
    const members = [...this.live].filter((m) => this.required(m)).sort();
    const missing: MissingAck[] = [];
    const refused: BarrierRefusal[] = [];
    const acked: MemberAck[] = [];
    for (const t of targets) {
      const view = this.views.get(t.app)!;
      for (const m of members) {
        if (!this.info.get(m)!.apps.includes(t.app)) continue;
        const ack = view.listed.has(m) ? (view.acks.get(m) ?? null) : null;
        const ackedEpoch = ack?.epoch ?? null;
        if (ack && ackedEpoch !== null && ackedEpoch >= t.epoch) {
          acked.push({ member: m, kind: this.info.get(m)!.kind, app: t.app, ack });
          continue;
        }
        missing.push({ member: m, app: t.app, ackedEpoch });
        if (ack?.refused && ack.refused.epoch >= t.epoch) refused.push({ member: m, app: t.app, ...ack.refused });
      }
    }
    const byMember = (a: { member: string; app: string }, b: { member: string; app: string }): number =>
      a.member.localeCompare(b.member) || a.app.localeCompare(b.app);
    return { members, missing: missing.sort(byMember), refused: refused.sort(byMember), acked: acked.sort(byMember) };
  }

  departed(): string[] {
    return [...(this.initial ?? [])].filter((m) => !this.live.has(m)).sort();
  }

  private required(m: string): boolean {
    const info = this.info.get(m);
    return !!info && this.kinds.has(info.kind);
  }

  /** True unless the member is known not to have to ack this app (unknown info counts as may). */
  private mayServe(m: string, app: string): boolean {
    const info = this.info.get(m);
    return info === undefined || (info !== null && this.kinds.has(info.kind) && info.apps.includes(app));
  }

  private async readMembers(): Promise<void> {
    const names = (await this.c.children(layout.members, this.onMembers)) ?? [];
    this.live = new Set(names);
    this.initial ??= new Set(names);
    for (const m of [...this.info.keys()]) {
      if (this.live.has(m)) continue;
      // Gone: if the same id comes back (a new session) its info and acks are read afresh.
      this.info.delete(m);
      for (const view of this.views.values()) view.acks.delete(m);
    }
  }

  private async readInfo(m: string): Promise<void> {
    const path = layout.member(m);
    const node = await this.c.get(path);
    this.info.set(m, node ? (memberInfoOf(path, node.data, this.invalid) ?? null) : null);
  }

  private async readAckList(app: string, view: AckView): Promise<void> {
    view.listed = new Set((await this.c.children(layout.acks(app), view.onList)) ?? []);
    for (const m of [...view.acks.keys()]) if (!view.listed.has(m)) view.acks.delete(m);
  }

  private async readAck(app: string, view: AckView, m: string): Promise<void> {
    let onAck = view.onAck.get(m);
    if (!onAck) {
      onAck = () => {
        view.changed.add(m);
        this.wake();
      };
      view.onAck.set(m, onAck);
    }
    const path = layout.ack(app, m);
    const node = await this.c.get(path, onAck);
    view.acks.set(m, (node && ackInfoOf(path, node.data, this.invalid)) ?? null);
  }
}

/** One refusal as the barrier's error (and the migration log) names it. */
export function describeRefusal(r: BarrierRefusal): string {
  return `${r.member} refused ${r.app} epoch ${r.epoch}: ${r.code}: ${r.detail}`;
}

/**
 * Waits until every live member that serves an app has acked at least the
 * target epoch for it. Driven by watches on the member list, the ack lists
 * and the acks still outstanding, with a slow poll as a safety net; a fired
 * watch costs only the reads it concerns (the completing ack, a `set` on an
 * existing ack node, costs one read). Members whose sessions expire drop out
 * (and are named in `departed`). Never throws for a late fleet: the report
 * says who has not acked. A member that refused a target (its ack node says
 * so) will not ack it however long the barrier waits, so that ends the wait
 * at once: NW_CP_BARRIER_REFUSED, naming each refusal (member, app, epoch,
 * the member's code and detail), with the report in its details.
 */
export async function waitForFleet(c: Coordinator, targets: readonly BarrierTarget[], opts: BarrierOptions): Promise<BarrierReport> {
  const started = performance.now();
  const invalid = opts.logger ? logInvalidDocuments(opts.logger, 'fleet.barrier.document_invalid') : () => undefined;
  const view = new FleetView(c, new Set(opts.kinds ?? ['gateway', 'datalayer']), targets, invalid);

  for (;;) {
    const woke = view.nextWake();
    await view.refresh();
    const { members, missing, refused, acked } = view.verdict(targets);
    const elapsedMs = performance.now() - started;
    const report = (ok: boolean): BarrierReport => ({ ok, elapsedMs, targets, members, missing, departed: view.departed(), acked });
    if (missing.length === 0) return report(true);
    if (refused.length > 0) {
      throw new CoordinatorError('NW_CP_BARRIER_REFUSED', refused.map(describeRefusal).join('; '), {
        details: { refused, report: report(false) },
      });
    }
    const remaining = opts.timeoutMs - elapsedMs;
    if (remaining <= 0) return report(false);
    let timer: NodeJS.Timeout | undefined;
    const polled = await Promise.race([
      woke.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), Math.min(remaining, opts.pollMs ?? 1000)))),
    ]);
    clearTimeout(timer);
    if (polled) view.rereadAll();
    // Acks tend to arrive together: let the notifications of one burst land before re-reading.
    await new Promise((r) => setImmediate(r));
  }
}
