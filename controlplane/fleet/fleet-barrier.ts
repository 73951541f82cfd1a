import type { Coordinator } from '../coordinator/coordinator.js';
import { layout, type AckInfo, type MemberInfo } from '../layout.js';

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

export interface BarrierReport {
  readonly ok: boolean;
  readonly elapsedMs: number;
  readonly targets: readonly BarrierTarget[];
  /** Live members that had to ack, at the end. */
  readonly members: readonly string[];
  readonly missing: readonly MissingAck[];
  /** Members present when the barrier started whose sessions ended before it finished. */
  readonly departed: readonly string[];
}

export interface BarrierOptions {
  readonly timeoutMs: number;
  /** Which member kinds must ack (default gateways and data layers). */
  readonly kinds?: readonly MemberInfo['kind'][];
  /** Fallback re-check period in case a watch is lost (ms). */
  readonly pollMs?: number;
}

function parse<T>(data: Buffer | undefined): T | undefined {
  if (!data) return undefined;
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Waits until every live member that serves an app has acked at least the
 * target epoch for it. Driven by watches on the member list, the ack lists
 * and the acks still outstanding, with a slow poll as a safety net; members
 * whose sessions expire drop out (and are named in `departed`). Never throws
 * for a late fleet: the report says who has not acked.
 */
export async function waitForFleet(c: Coordinator, targets: readonly BarrierTarget[], opts: BarrierOptions): Promise<BarrierReport> {
  const started = performance.now();
  const kinds = new Set(opts.kinds ?? ['gateway', 'datalayer']);
  const memberInfo = new Map<string, MemberInfo | null>();
  const done = new Set<string>(); // `${member}\0${app}` pairs known to be at or past the target
  let initial: Set<string> | undefined;
  let wake: () => void = () => undefined;
  const poke = (): void => wake();

  for (;;) {
    const woke = new Promise<void>((r) => (wake = r));
    const names = (await c.children(layout.members, poke)) ?? [];
    const live = new Set(names);
    initial ??= new Set(names);
    for (const m of [...memberInfo.keys()]) if (!live.has(m)) memberInfo.delete(m);
    await Promise.all(
      names
        .filter((m) => !memberInfo.has(m))
        .map(async (m) => {
          const node = await c.get(layout.member(m));
          memberInfo.set(m, node ? (parse<MemberInfo>(node.data) ?? null) : null);
        }),
    );
    const required = names.filter((m) => {
      const info = memberInfo.get(m);
      return info && kinds.has(info.kind);
    });
    const missing: MissingAck[] = [];
    await Promise.all(
      targets.map(async (t) => {
        const ackers = new Set((await c.children(layout.acks(t.app), poke)) ?? []);
        await Promise.all(
          required
            .filter((m) => memberInfo.get(m)!.apps.includes(t.app))
            .map(async (m) => {
              const key = `${m}\u0000${t.app}`;
              if (done.has(key) && ackers.has(m)) return;
              done.delete(key);
              const ack = ackers.has(m) ? parse<AckInfo>((await c.get(layout.ack(t.app, m), poke))?.data) : undefined;
              if (ack && ack.epoch >= t.epoch) done.add(key);
              else missing.push({ member: m, app: t.app, ackedEpoch: ack?.epoch ?? null });
            }),
        );
      }),
    );
    const elapsedMs = performance.now() - started;
    const report = (ok: boolean): BarrierReport => ({
      ok,
      elapsedMs,
      targets,
      members: required.sort(),
      missing: missing.sort((a, b) => a.member.localeCompare(b.member) || a.app.localeCompare(b.app)),
      departed: [...initial!].filter((m) => !live.has(m)).sort(),
    });
    if (missing.length === 0) return report(true);
    const remaining = opts.timeoutMs - elapsedMs;
    if (remaining <= 0) return report(false);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([woke, new Promise<void>((r) => (timer = setTimeout(r, Math.min(remaining, opts.pollMs ?? 1000))))]);
    clearTimeout(timer);
    // Acks tend to arrive together: let the notifications of one burst land before re-reading.
    await new Promise((r) => setImmediate(r));
  }
}
