import type { CommitEntry } from '../../reference-app/index.js';
import type { ClientWrite, FaultRecord, TimedEvent } from './evidence.js';

/** `+1234.5ms`: a time relative to the migration's submission. */
export function at(ns: string, originNs: string): string {
  const ms = Number(BigInt(ns) - BigInt(originNs)) / 1e6;
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(1)}ms`;
}

export function commitLine(side: 'n1' | 'n2', c: CommitEntry, originNs: string): string {
  const how = `via ${c.via}, request ${c.requestId ?? '-'}, done ${at(c.endNs, originNs)}`;
  return `${at(c.beginNs, originNs)} ${side} commit #${c.seq} ${c.key}=${c.value} (${how})`;
}

export function writeLine(w: ClientWrite, originNs: string): string {
  const headers = [
    w.deployment && `deployment=${w.deployment}`,
    w.mode && `mode=${w.mode}`,
    w.epoch && `epoch=${w.epoch}`,
    w.mirroredTo && `mirrored-to=${w.mirroredTo}`,
    w.error && `error=${w.error}`,
  ].filter(Boolean);
  return (
    `${at(w.startNs, originNs)} client ${w.source} ${w.via} write ${w.key}=${w.value} via ${w.gateway}: ` +
    `${w.outcome} ${w.status}${headers.length > 0 ? ` [${headers.join(' ')}]` : ''} (ended ${at(w.endNs, originNs)})`
  );
}

export function eventLine(e: TimedEvent, originNs: string): string {
  return `${at(e.atNs, originNs)} migration ${e.event}${e.phase ? ` ${e.phase}` : ''}${e.detail ? `: ${e.detail}` : ''}`;
}

export function faultLines(f: FaultRecord, originNs: string): string[] {
  const name = `fault ${f.kind} on ${f.target} (${f.trigger})`;
  const out: string[] = [];
  if (f.injectedNs) out.push(`${at(f.injectedNs, originNs)} ${name} injected${f.detail ? `: ${f.detail}` : ''}`);
  if (f.healedNs) out.push(`${at(f.healedNs, originNs)} ${name} healed`);
  if (!f.injectedNs) out.push(`${name}: ${f.status}${f.detail ? ` (${f.detail})` : ''}`);
  return out;
}

/** Lines that carry a leading `+ms` time, sorted by it; lines without one keep their order at the end. */
export function byTime(lines: readonly string[]): string[] {
  const time = (l: string): number => {
    const m = /^([+-]\d+(?:\.\d+)?)ms /.exec(l);
    return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
  };
  return lines
    .map((l, i) => ({ l, i, t: time(l) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.l);
}

/** Events and faults within `windowMs` of a time, for context around a violation. */
export function contextAround(
  ns: string,
  windowMs: number,
  events: readonly TimedEvent[],
  faults: readonly FaultRecord[],
  originNs: string,
): string[] {
  const near = (t: string | undefined): boolean => t !== undefined && Math.abs(Number(BigInt(t) - BigInt(ns)) / 1e6) <= windowMs;
  return [
    ...events.filter((e) => near(e.atNs)).map((e) => eventLine(e, originNs)),
    ...faults.filter((f) => near(f.injectedNs) || near(f.healedNs)).flatMap((f) => faultLines(f, originNs)),
  ];
}
