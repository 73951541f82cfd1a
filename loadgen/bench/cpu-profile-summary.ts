/** Pure summary of a V8 .cpuprofile (as written by `node --cpu-prof`): self time per function and per area. */

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface TimeShare {
  readonly name: string;
  readonly location: string;
  readonly area: string;
  /** Self time, or inclusive time in `ownInclusive`. */
  readonly ms: number;
  /** Share of busy (non-idle) time, 0..100. */
  readonly pct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly busyMs: number;
  readonly areas: readonly TimeShare[];
  /** Top functions by self time. */
  readonly functions: readonly TimeShare[];
  /** Our own functions (gateway/, loadgen/, controlplane/) by inclusive time (callees included). */
  readonly ownInclusive: readonly TimeShare[];
}

/** Which part of the stack a frame belongs to, from its URL. */
export function areaOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(program)') return 'v8/native (program)';
  if (url === '') return 'native';
  if (url.startsWith('node:')) return 'node core';
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (m) return m[1]!;
  const own = /\/(gateway|loadgen|controlplane)\//.exec(url);
  if (own) return `${own[1]}/ (ours)`;
  return 'other';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) return url.slice(nm + '/node_modules/'.length);
  const own = /\/((?:gateway|loadgen|controlplane)\/.*)$/.exec(url);
  return own ? own[1]! : url.replace(/^file:\/\//, '');
}

/**
 * Self time per function. Sample i lasts until sample i+1 (the last one until
 * endTime), as Chrome DevTools counts it; without samples, hitCount times the
 * mean interval is used (and `startAtFrameUrl` is ignored).
 */
export interface SummaryOptions {
  /** How many functions to list. */
  readonly top?: number;
  /**
   * Drop samples before the first one whose stack has a frame from a URL
   * matching this (e.g. the request handler), so start-up is not counted.
   */
  readonly startAtFrameUrl?: RegExp;
}

interface FrameInfo {
  readonly key: string;
  readonly name: string;
  readonly location: string;
  readonly area: string;
}

function frameInfo(n: CpuProfileNode): FrameInfo {
  const { functionName, url, lineNumber, columnNumber } = n.callFrame;
  const name = functionName || '(anonymous)';
  const location = url ? `${shortUrl(url)}:${lineNumber + 1}:${columnNumber + 1}` : '';
  return { key: `${name}\u0000${location}`, name, location, area: areaOf(functionName, url) };
}

/** Self time per node id, µs, from the first sample `startAt` accepts. */
function selfTimes(profile: CpuProfile, startAt: ((id: number) => boolean) | undefined): Map<number, number> {
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length === 0 || deltas.length !== samples.length) {
    const hits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
    const per = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * per);
    return selfUs;
  }
  let t = profile.startTime;
  const stamps = deltas.map((d) => (t += d));
  const first = startAt ? samples.findIndex(startAt) : 0;
  if (first === -1) return selfUs;
  for (let i = first; i < samples.length; i++) {
    const dur = (i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime) - stamps[i]!;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, dur));
  }
  return selfUs;
}

export function summarizeCpuProfile(profile: CpuProfile, options: SummaryOptions = {}): ProfileSummary {
  const top = options.top ?? 25;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const info = new Map(profile.nodes.map((n) => [n.id, frameInfo(n)]));
  const stack = (id: number): number[] => {
    const ids: number[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) ids.push(cur);
    return ids;
  };
  const url = options.startAtFrameUrl;
  const startAt = url ? (id: number): boolean => stack(id).some((x) => url.test(byId.get(x)?.callFrame.url ?? '')) : undefined;
  const selfUs = selfTimes(profile, startAt);

  const self = new Map<string, { f: FrameInfo; us: number }>();
  const inclusive = new Map<string, { f: FrameInfo; us: number }>();
  const byArea = new Map<string, number>();
  const add = (m: Map<string, { f: FrameInfo; us: number }>, f: FrameInfo, us: number): void => {
    const cur = m.get(f.key) ?? { f, us: 0 };
    cur.us += us;
    m.set(f.key, cur);
  };
  for (const [id, us] of selfUs) {
    const f = info.get(id);
    if (!f || us === 0) continue;
    add(self, f, us);
    byArea.set(f.area, (byArea.get(f.area) ?? 0) + us);
    if (f.area === 'idle') continue;
    // A recursive function counts once per sample.
    const seen = new Set<string>();
    for (const x of stack(id)) {
      const g = info.get(x)!;
      if (!seen.has(g.key)) add(inclusive, g, us);
      seen.add(g.key);
    }
  }
  const totalUs = [...byArea.values()].reduce((a, b) => a + b, 0);
  const idleUs = byArea.get('idle') ?? 0;
  const busyUs = totalUs - idleUs;
  const toSelf = (f: Omit<FrameInfo, 'key'>, us: number): TimeShare => ({
    name: f.name,
    location: f.location,
    area: f.area,
    ms: Math.round(us / 100) / 10,
    pct: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0,
  });
  const ranked = (m: Map<string, { f: FrameInfo; us: number }>, keep: (f: FrameInfo) => boolean): TimeShare[] =>
    [...m.values()]
      .filter((x) => keep(x.f))
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((x) => toSelf(x.f, x.us));
  return {
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    areas: [...byArea.entries()]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([a, us]) => toSelf({ name: a, location: '', area: a }, us)),
    functions: ranked(self, (f) => f.area !== 'idle'),
    ownInclusive: ranked(inclusive, (f) => / \(ours\)$/.test(f.area)),
  };
}
