import type { CommitEntry } from '../../reference-app/index.js';
import type { ClientWrite, MigrationEvidence, Violation } from './evidence.js';
import { byTime, commitLine, contextAround, writeLine } from './trace-lines.js';

type Side = 'n1' | 'n2';

/** Longest list of offending commits a trace shows. */
const MAX_SHOWN = 8;

/**
 * Which side a request was meant for (its primary), if that can be told: the deployment the
 * client's reply named, else the mode it was answered under (`mirror` as the sync phase writes it
 * has N1 primary; proxy and redirect have N2), else, for a request both sides committed (a
 * mirrored write whose client left), N1 when the plan does not mirror writes back to N1 (then only
 * the sync phase's mirror sends a write to both sides).
 */
function primaryOf(w: ClientWrite | undefined, paired: boolean, mirrorWritesToN1: boolean): Side | undefined {
  if (w?.deployment === 'n1' || w?.deployment === 'n2') return w.deployment;
  if (w?.mode === 'serve' || w?.mode === 'mirror') return 'n1';
  if (w?.mode === 'proxy' || w?.mode === 'redirect') return 'n2';
  if (paired) return mirrorWritesToN1 ? undefined : 'n1';
  return undefined;
}

/**
 * The client write a commit came from: by request id, else by value (every campaign write
 * carries its id as value, so this works even where a gateway replaced the request id).
 */
export function clientIndex(ev: Pick<MigrationEvidence, 'writes'>): (c: CommitEntry) => ClientWrite | undefined {
  const byId = new Map(ev.writes.map((w) => [w.id, w]));
  return (c) => (c.requestId ? byId.get(c.requestId) : undefined) ?? byId.get(c.value);
}

/**
 * The client writes a side committed as their primary: a commit is left out if it is the data
 * sync's copy (`via: sync`), or the secondary of a mirrored write (same request id on both sides,
 * or a reply that names the other side as primary). A commit whose primary cannot be told (a
 * mirrored write with N2 primary, client gone) is left out and counted.
 */
export function primaryWrites(ev: MigrationEvidence): { n1: CommitEntry[]; n2: CommitEntry[]; ambiguous: number } {
  const clients = clientIndex(ev);
  const ids = {
    n1: new Set(ev.commits.n1.flatMap((c) => (c.via !== 'sync' && c.requestId ? [c.requestId] : []))),
    n2: new Set(ev.commits.n2.flatMap((c) => (c.via !== 'sync' && c.requestId ? [c.requestId] : []))),
  };
  let ambiguous = 0;
  const keep = (side: Side, other: Side) => (c: CommitEntry) => {
    if (c.via === 'sync') return false;
    if (!c.requestId) return true;
    const paired = ids[other].has(c.requestId);
    const primary = primaryOf(clients(c), paired, ev.mirrorWritesToN1) ?? (paired ? undefined : side);
    if (primary === undefined) ambiguous += 1;
    return primary === side;
  };
  return { n1: ev.commits.n1.filter(keep('n1', 'n2')), n2: ev.commits.n2.filter(keep('n2', 'n1')), ambiguous };
}

/**
 * No write commits at N1 after the first write committed at N2 — from the app servers' commit
 * logs, on the host's monotonic clock. "After" is certain: the N1 commit began after the N2 one
 * had ended. For a migration that did not end `done` (a rollback gives writes back to N1), only
 * N1 commits that N2 commits also followed count: the commit order must be N1…, N2…, N1….
 *
 * Strict only when N1 receives no copies after the handover: the campaign's plans set
 * `proxy.mirrorWritesToN1: false`; copies are recognised by request id and reply headers anyway.
 */
export function checkWriteOrder(ev: MigrationEvidence): Violation[] {
  const { n1, n2 } = primaryWrites(ev);
  if (n2.length === 0) return [];
  const firstN2 = n2.reduce((a, b) => (BigInt(b.endNs) < BigInt(a.endNs) ? b : a));
  const lastN2 = n2.reduce((a, b) => (BigInt(b.beginNs) > BigInt(a.beginNs) ? b : a));
  const done = ev.outcome.status === 'done';
  const late = n1
    .filter((c) => BigInt(c.beginNs) > BigInt(firstN2.endNs) && (done || BigInt(c.endNs) < BigInt(lastN2.beginNs)))
    .sort((a, b) => (BigInt(a.beginNs) < BigInt(b.beginNs) ? -1 : 1));
  if (late.length === 0) return [];
  const clients = clientIndex(ev);
  const o = ev.originNs;
  const withClient = (side: Side, c: CommitEntry): string[] => {
    const w = clients(c);
    return [commitLine(side, c, o), ...(w ? [`    ${writeLine(w, o)}`] : [])];
  };
  const worst = Number(BigInt(late.at(-1)!.beginNs) - BigInt(firstN2.endNs)) / 1e6;
  const byChannel = (['http', 'ws'] as const).map((via) => ({ via, commits: late.filter((c) => c.via === via) }));
  return [
    {
      invariant: 'no-n1-after-n2',
      migrationId: ev.migrationId,
      summary:
        `${late.length} write(s) (${byChannel.map((x) => `${x.via} ${x.commits.length}`).join(', ')}) committed at N1 after the first ` +
        `write committed at N2${done ? '' : ' and before a later N2 write'} ` +
        `(the last ${worst.toFixed(1)} ms after it; migration ${ev.outcome.status})`,
      trace: [
        ...withClient('n2', firstN2),
        ...byChannel.flatMap(({ via, commits }) => [
          ...commits.slice(0, MAX_SHOWN).flatMap((c) => withClient('n1', c)),
          ...(commits.length > MAX_SHOWN ? [`… ${commits.length - MAX_SHOWN} more N1 commits via ${via}`] : []),
        ]),
        ...(done ? [] : withClient('n2', lastN2)),
        'around the first late N1 commit:',
        ...byTime(contextAround(late[0]!.beginNs, 2000, ev.events, ev.faults, o)),
      ],
    },
  ];
}
