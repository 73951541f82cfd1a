import type { FleetStatus } from '../../control-plane.js';
import type { MemberStatus } from '../../live-members.js';

/**
 * A member's health as the dashboard shows it:
 * - `ok`: present (its coordinator session, and with it its lease, is alive) and acked the current
 *   epoch of every app it serves;
 * - `behind`: present, but has not acked an app's current epoch yet (for `behindMs`; a flip takes
 *   a moment, a member stuck here holds the migration's barrier);
 * - `refused`: present, and refused an app's current epoch (the barrier ends on it);
 * - `gone`: was here and is not any more: its session ended, so its lease lapsed (shown for
 *   GONE_SHOWN_MS).
 */
export type MemberHealth = 'ok' | 'behind' | 'refused' | 'gone';

export interface MemberView extends Omit<MemberStatus, 'apps'> {
  readonly apps: readonly string[];
  readonly health: MemberHealth;
  /** Why, in a few words: the apps behind or refused, or when it left. */
  readonly detail: string;
  /** How long the oldest unacked epoch has waited (behind only). */
  readonly behindMs?: number;
}

export interface AppView {
  readonly app: string;
  /** The state's mode (`serve`, `mirror`, `fence`, `proxy`, `redirect`); undefined without a state. */
  readonly mode: string | undefined;
  readonly epoch: number | undefined;
  /** The migration the state is tagged with, if any. */
  readonly migration: string | undefined;
  readonly lock: string | undefined;
  readonly acks: FleetStatus['apps'][number]['acks'];
  /** Members serving the app that acked the current epoch, of all that serve it. */
  readonly acked: number;
  readonly stateError?: string;
}

export interface FleetView {
  readonly at: string;
  readonly leader: string | undefined;
  readonly members: readonly MemberView[];
  readonly apps: readonly AppView[];
  readonly migrations: FleetStatus['migrations'];
}

/** How long a member that left stays on the dashboard. */
export const GONE_SHOWN_MS = 5 * 60 * 1000;

function field(state: unknown, name: string): unknown {
  return state !== null && typeof state === 'object' ? (state as Record<string, unknown>)[name] : undefined;
}

function appView(a: FleetStatus['apps'][number]): AppView {
  const mode = field(a.state, 'mode');
  const migration = field(field(a.state, 'migration'), 'id');
  return {
    app: a.app,
    mode: typeof mode === 'string' ? mode : undefined,
    epoch: a.epoch,
    migration: typeof migration === 'string' ? migration : undefined,
    lock: a.lock,
    acks: a.acks,
    acked: a.acks.filter((k) => k.current).length,
    ...(a.stateError ? { stateError: a.stateError } : {}),
  };
}

/**
 * Turns the fleet's status into what the dashboard shows, remembering across calls what one
 * status cannot say: which members left, and since when a member has been behind on an epoch.
 */
export class FleetHealth {
  private readonly seen = new Map<string, MemberStatus>();
  private readonly gone = new Map<string, { readonly member: MemberStatus; readonly at: number }>();
  /** `<member> <app> <epoch>` → when the member was first seen not having acked that epoch. */
  private readonly behindSince = new Map<string, number>();

  view(status: FleetStatus, now: number = Date.now()): FleetView {
    const apps = status.apps.map(appView);
    const live = new Set(status.members.map((m) => m.id));
    for (const [id, member] of this.seen) if (!live.has(id)) this.gone.set(id, { member, at: now });
    this.seen.clear();
    for (const m of status.members) {
      this.seen.set(m.id, m);
      this.gone.delete(m.id);
    }
    for (const [id, g] of this.gone) if (now - g.at > GONE_SHOWN_MS) this.gone.delete(id);

    const stillBehind = new Set<string>();
    const members: MemberView[] = status.members.map((m) => {
      const behind: string[] = [];
      const refused: string[] = [];
      let oldest = now;
      for (const a of apps) {
        if (a.epoch === undefined || !m.apps.includes(a.app)) continue;
        const ack = a.acks.find((k) => k.member === m.id);
        if (ack?.current) continue;
        if (ack?.refused && ack.refused.epoch >= a.epoch) {
          refused.push(`${a.app} epoch ${ack.refused.epoch}: ${ack.refused.code}`);
          continue;
        }
        const key = `${m.id} ${a.app} ${a.epoch}`;
        stillBehind.add(key);
        const since = this.behindSince.get(key) ?? now;
        this.behindSince.set(key, since);
        oldest = Math.min(oldest, since);
        behind.push(`${a.app} at ${ack?.epoch ?? 'no'} epoch of ${a.epoch}`);
      }
      const base = { ...m, apps: [...m.apps] };
      if (refused.length) return { ...base, health: 'refused' as const, detail: `refused ${refused.join('; ')}` };
      if (behind.length) return { ...base, health: 'behind' as const, detail: behind.join('; '), behindMs: now - oldest };
      const served = apps.filter((a) => a.epoch !== undefined && m.apps.includes(a.app)).length;
      return { ...base, health: 'ok' as const, detail: served ? `acked the current epoch of ${served} app(s)` : 'present' };
    });
    for (const key of this.behindSince.keys()) if (!stillBehind.has(key)) this.behindSince.delete(key);
    for (const [id, g] of this.gone) {
      const left = new Date(g.at).toISOString();
      members.push({ ...g.member, id, apps: [...g.member.apps], health: 'gone', detail: `left at ${left}: its session, and lease, ended` });
    }
    members.sort((x, y) => x.id.localeCompare(y.id));
    return { at: new Date(now).toISOString(), leader: status.leader, members, apps, migrations: status.migrations };
  }
}
