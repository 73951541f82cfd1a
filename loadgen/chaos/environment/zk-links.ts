import { type Proxy as ToxiproxyProxy, Toxiproxy } from 'toxiproxy-node-client';
import type { ZooKeeperServer } from './service-endpoints.js';

const BLACKHOLE = 'nw-blackhole';

/** How a gateway is cut off from ZooKeeper. */
export type LinkFault = 'cut' | 'blackhole';

/**
 * Each gateway slot reaches every ZooKeeper server through a Toxiproxy proxy of its own, so one
 * gateway can be cut off while the rest of the fleet (and the control planes, which connect
 * directly) keep their sessions. `cut` disables the proxies: open connections are closed and new
 * ones refused, the client sees a disconnect at once. `blackhole` keeps them open and lets no byte
 * through (a timeout toxic with timeout 0, both directions): the client notices only by its ping
 * timeout, as with a dead network path.
 */
export class ZkLinks {
  /** Slots whose proxies carry a fault now (the client library does not list toxics, so this class remembers). */
  private readonly faulty = new Map<number, LinkFault>();

  private constructor(private readonly proxies: ReadonlyMap<number, readonly ToxiproxyProxy[]>) {}

  /** Creates `slots` × servers proxies named `<prefix>-gw<slot>-zk<id>` on listen port 0. */
  static async create(apiUrl: string, prefix: string, slots: number, servers: readonly ZooKeeperServer[]): Promise<ZkLinks> {
    const toxiproxy = new Toxiproxy(apiUrl);
    await toxiproxy.getVersion();
    const proxies = new Map<number, ToxiproxyProxy[]>();
    const links = new ZkLinks(proxies);
    try {
      for (let slot = 0; slot < slots; slot++) {
        const list: ToxiproxyProxy[] = [];
        proxies.set(slot, list);
        for (const s of servers)
          list.push(
            await toxiproxy.createProxy({ name: `${prefix}-gw${slot}-zk${s.id}`, listen: '127.0.0.1:0', upstream: `${s.host}:${s.port}` }),
          );
      }
    } catch (err) {
      await links.dispose();
      throw err;
    }
    return links;
  }

  /** The connect string a gateway in this slot uses: its proxies' listen addresses. */
  connectString(slot: number): string {
    return this.of(slot)
      .map((p) => p.listen)
      .join(',');
  }

  async inject(slot: number, fault: LinkFault): Promise<void> {
    await this.heal(slot);
    this.faulty.set(slot, fault);
    for (const p of this.of(slot)) {
      if (fault === 'cut') await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
      else
        for (const stream of ['upstream', 'downstream'] as const)
          await p.addToxic({ name: `${BLACKHOLE}-${stream}`, type: 'timeout', stream, toxicity: 1, attributes: { timeout: 0 } });
    }
  }

  /** Undoes the slot's fault, if it has one. */
  async heal(slot: number): Promise<void> {
    const fault = this.faulty.get(slot);
    if (fault === undefined) return;
    for (const p of this.of(slot)) {
      if (fault === 'cut') await p.update({ enabled: true, listen: p.listen, upstream: p.upstream });
      else for (const stream of ['upstream', 'downstream'] as const) await (await p.getToxic(`${BLACKHOLE}-${stream}`)).remove();
    }
    this.faulty.delete(slot);
  }

  /** Removes every proxy of the campaign. */
  async dispose(): Promise<void> {
    for (const list of this.proxies.values()) for (const p of list) await p.remove().catch(() => undefined);
  }

  private of(slot: number): readonly ToxiproxyProxy[] {
    const list = this.proxies.get(slot);
    if (!list) throw new RangeError(`no ZooKeeper links for gateway slot ${slot}`);
    return list;
  }
}
