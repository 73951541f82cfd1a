import { hostname } from 'node:os';
import { isLoopbackHost } from '../../platform/admin-http.js';
import type { MemberInfo } from '../../protocol/coordinator-paths.js';
import type { MemberStatus } from '../live-members.js';

/** What a scrape of one gateway's /metrics gave: its text, or why there is none. */
export type ScrapeResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

/** Far above what a gateway's /metrics holds (a few KiB per app); a bigger answer is not a gateway's. */
const MAX_METRICS_BYTES = 8 * 1024 * 1024;

/**
 * Why the control plane will not read this member's /metrics, or undefined when it may. A gateway's
 * admin API binds to loopback only, so its `adminUrl` is reachable from its own host alone: on any
 * other host the same address is someone else's loopback. And only loopback addresses: the member
 * document must not send the control plane's requests anywhere else.
 */
export function scrapeRefusal(member: Pick<MemberInfo, 'adminUrl' | 'host'>, ownHost: string = hostname()): string | undefined {
  if (!member.adminUrl) return 'publishes no adminUrl (no admin listener)';
  const host = new URL(member.adminUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopbackHost(host)) return `adminUrl ${member.adminUrl} is not a loopback address`;
  if (member.host !== ownHost) return `runs on host ${member.host}: its admin API is on that host's loopback, not ours (${ownHost})`;
  return undefined;
}

/** One gateway process: a restarted gateway (same id) starts its counters over, so it is another series. */
export const processKey = (m: Pick<MemberStatus, 'id' | 'pid' | 'startedAt'>): string => `${m.id}#${m.pid}@${m.startedAt}`;

/** GETs `<adminUrl>/metrics` (open on loopback, no token needed) within `timeoutMs`; never throws. */
export async function scrapeMetrics(fetchFn: typeof fetch, adminUrl: string, timeoutMs: number): Promise<ScrapeResult> {
  try {
    const res = await fetchFn(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { ok: false, reason: `/metrics answered ${res.status}` };
    }
    const reader = res.body?.getReader();
    if (!reader) return { ok: false, reason: '/metrics sent no body' };
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_METRICS_BYTES) {
        await reader.cancel();
        return { ok: false, reason: `/metrics is over ${MAX_METRICS_BYTES} bytes` };
      }
      chunks.push(value);
    }
    return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
