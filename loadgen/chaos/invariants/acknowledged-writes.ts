import { expectedFinalStates, type Mutation } from '../../analysis/lost-writes.js';
import type { ClientWrite, MigrationEvidence, Violation } from './evidence.js';
import { byTime, commitLine, writeLine } from './trace-lines.js';
import { primaryWrites } from './write-order.js';

const MAX_KEYS_SHOWN = 8;
const MAX_LINES_PER_KEY = 6;

/** The side whose store must hold every acknowledged write: N2 after done, N1 after a rollback. */
export function finalSide(ev: MigrationEvidence): 'n1' | 'n2' | undefined {
  if (ev.outcome.status === 'done') return 'n2';
  if (ev.outcome.status === 'rolled-back') return 'n1';
  return undefined;
}

/**
 * Writes a rollback loses by design: with `proxy.mirrorWritesToN1: false`, what N2 took as
 * primary never reaches N1 (docs/architecture.md, the safety argument). Request ids.
 */
export function lostByDesign(ev: MigrationEvidence): Set<string> {
  if (ev.outcome.status !== 'rolled-back' || ev.mirrorWritesToN1) return new Set();
  return new Set(primaryWrites(ev).n2.flatMap((c) => (c.requestId ? [c.requestId] : [])));
}

function mutation(w: ClientWrite, originNs: bigint): Mutation {
  const ms = (ns: string): number => Number(BigInt(ns) - originNs) / 1e6;
  return { key: w.key, op: 'write', value: w.value, start: ms(w.startNs), end: ms(w.endNs) };
}

/**
 * Every acknowledged write is present on the side the app ends on, read back from that side's
 * store. For each key the last acknowledged write must be there, or one that overlapped it in
 * time (either may have been applied last), or a write whose outcome is unknown (failed or
 * abandoned) that did not end before it started (analysis/lost-writes.ts). Only for migrations
 * that ended done or rolled back; the others are reported by `migration-ends`.
 */
export function checkAcknowledgedWrites(ev: MigrationEvidence): Violation[] {
  const side = finalSide(ev);
  if (!side) return [];
  const excluded = lostByDesign(ev);
  const origin = BigInt(ev.originNs);
  const counted = ev.writes.filter((w) => !excluded.has(w.id));
  const expected = expectedFinalStates({
    acknowledged: counted.filter((w) => w.outcome === 'acked').map((w) => mutation(w, origin)),
    uncertain: counted.filter((w) => w.outcome === 'failed' || w.outcome === 'unknown').map((w) => mutation(w, origin)),
  });
  const store = ev.stores[side];
  const wsKeys = new Set(ev.writes.filter((w) => w.via === 'ws').map((w) => w.key));
  // keys written over HTTP first: WebSocket keys have a failure mode of their own
  const lost = [...expected]
    .filter(([key, values]) => !values.includes(store.get(key) ?? null))
    .sort(([a], [b]) => Number(wsKeys.has(a)) - Number(wsKeys.has(b)) || (a < b ? -1 : 1));
  if (lost.length === 0) return [];
  const lostWs = lost.filter(([key]) => wsKeys.has(key)).length;
  const o = ev.originNs;
  const trace = lost.slice(0, MAX_KEYS_SHOWN).flatMap(([key, values]) => {
    const writes = ev.writes.filter((w) => w.key === key).slice(-MAX_LINES_PER_KEY);
    const commits = (['n1', 'n2'] as const).flatMap((s) =>
      ev.commits[s]
        .filter((c) => c.key === key)
        .slice(-MAX_LINES_PER_KEY)
        .map((c) => commitLine(s, c, o)),
    );
    return [
      `key ${key}: ${side} holds ${JSON.stringify(store.get(key) ?? null)}, expected one of ${JSON.stringify(values)}`,
      ...byTime([...writes.map((w) => writeLine(w, o)), ...commits]).map((l) => `    ${l}`),
    ];
  });
  return [
    {
      invariant: 'acknowledged-writes',
      migrationId: ev.migrationId,
      summary:
        `${lost.length} of ${expected.size} written key(s) (http ${lost.length - lostWs}, ws ${lostWs}) at ${side} ` +
        `(migration ${ev.outcome.status}) miss their acknowledged value`,
      trace: [...trace, ...(lost.length > MAX_KEYS_SHOWN ? [`… ${lost.length - MAX_KEYS_SHOWN} more keys`] : [])],
    },
  ];
}
