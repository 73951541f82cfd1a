import { type Proxy as ToxiproxyProxy, Toxiproxy } from 'toxiproxy-node-client';

/** The round-trip times the issue measures at (ms); any whole number from 0 to MAX_RTT_MS is accepted. */
export const STANDARD_RTTS_MS: readonly number[] = [0, 5, 20, 50];
export const MAX_RTT_MS = 10_000;

/** Names of this harness's latency toxics: a link's toxics are removed by name, an operator's own are left alone. */
const TOXIC = { upstream: 'nw-rtt-upstream', downstream: 'nw-rtt-downstream' } as const;

/**
 * Links through Toxiproxy with a configured round-trip time (tc netem is not available here): a
 * latency toxic of RTT/2 on each direction (whole ms: an odd RTT is split floor/ceil), so a request
 * and its reply over one connection take RTT more. Proxies this object made are removed by dispose(); proxies it only attached to (the
 * two-datacenter cluster's storage proxies, made by scripts/cassandra-dc.sh) lose its toxics and stay.
 */
export class RttLinks {
  private readonly made: ToxiproxyProxy[] = [];
  private readonly attached: ToxiproxyProxy[] = [];
  private rttMs = 0;

  private constructor(
    private readonly toxiproxy: Toxiproxy,
    private readonly apiUrl: string,
  ) {}

  /** Checks that the API answers. */
  static async connect(apiUrl: string): Promise<RttLinks> {
    const toxiproxy = new Toxiproxy(apiUrl);
    await toxiproxy.getVersion();
    return new RttLinks(toxiproxy, apiUrl.replace(/\/+$/, ''));
  }

  /** A new proxy in front of `upstream` (host:port) on a free loopback port, at the links' current RTT; resolves with its address. */
  async link(name: string, upstream: string): Promise<string> {
    const proxy = await this.toxiproxy.createProxy({ name, listen: '127.0.0.1:0', upstream });
    this.made.push(proxy);
    await this.apply(proxy, this.rttMs);
    return proxy.listen;
  }

  /** An existing proxy (by name) joins the links: setRtt applies to it too. */
  async attach(name: string): Promise<void> {
    const proxy = await this.toxiproxy.get(name);
    this.attached.push(proxy);
    await this.apply(proxy, this.rttMs);
  }

  /** Sets every link's round-trip time (0: no latency toxic). */
  async setRtt(ms: number): Promise<void> {
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_RTT_MS)
      throw new RangeError(`RTT must be a whole number of ms in 0..${MAX_RTT_MS}, got ${ms}`);
    this.rttMs = ms;
    for (const p of [...this.made, ...this.attached]) await this.apply(p, ms);
  }

  get rtt(): number {
    return this.rttMs;
  }

  /** Names of a proxy's toxics now (the client library keeps no list of them). */
  async toxicsOf(name: string): Promise<Array<{ name: string; type: string; stream: string; attributes: Record<string, number> }>> {
    const res = await fetch(`${this.apiUrl}/proxies/${encodeURIComponent(name)}/toxics`);
    if (!res.ok) throw new Error(`Toxiproxy: GET toxics of ${name}: HTTP ${res.status}`);
    return (await res.json()) as Array<{ name: string; type: string; stream: string; attributes: Record<string, number> }>;
  }

  private async apply(proxy: ToxiproxyProxy, rttMs: number): Promise<void> {
    const current = new Set((await this.toxicsOf(proxy.name)).map((t) => t.name));
    // Toxiproxy takes whole milliseconds: an odd RTT is split floor/ceil, so the two ways still add up to it.
    const oneWay = { upstream: Math.floor(rttMs / 2), downstream: Math.ceil(rttMs / 2) };
    for (const stream of ['upstream', 'downstream'] as const) {
      if (current.has(TOXIC[stream])) await (await proxy.getToxic(TOXIC[stream])).remove();
      if (rttMs > 0)
        await proxy.addToxic({
          name: TOXIC[stream],
          type: 'latency',
          stream,
          toxicity: 1,
          attributes: { latency: oneWay[stream], jitter: 0 },
        });
    }
  }

  /** Removes the proxies this object made and its toxics from the attached ones. */
  async dispose(): Promise<void> {
    for (const p of this.made.splice(0)) await p.remove().catch(() => undefined);
    for (const p of this.attached.splice(0)) await this.apply(p, 0).catch(() => undefined);
  }
}
