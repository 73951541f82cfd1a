import { randomBytes } from 'node:crypto';
import type { N2AsSeenFromN1 } from './backed-stores.js';
import type { ExperimentConfig } from './experiment-config.js';
import { ExperimentError } from './experiment-errors.js';
import type { StoreFactory } from './experiment-stores.js';
import { RttLinks } from './rtt-links.js';
import { type DataStrategy, storeFactoryFor } from './store-factory.js';

export interface StoresOverLinks {
  readonly stores: StoreFactory;
  /** What the links are, for report titles: "" without --n2-rtt. */
  readonly description: string;
  /** Removes the links' proxies (copy-on-write) or their toxics (the datacenter link). */
  close(): Promise<void>;
}

/** host:port of a contact point that may carry its own port. */
function hostPort(contactPoint: string, defaultPort: number): string {
  return /:\d+$/.test(contactPoint) ? contactPoint : `${contactPoint}:${defaultPort}`;
}

function split(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/**
 * The stores of a strategy with N2 at a round-trip time (`rttMs`; undefined: direct, no Toxiproxy).
 * copy-on-write: N1's side (its data layers' clients of N2's Cassandra and Redis, the control
 * plane's sync jobs) reaches N2 through a Toxiproxy proxy each, made here. replicate: the datacenter
 * link, i.e. the storage proxies scripts/cassandra-dc.sh made (NW_CASSANDRA_DC_LINK=toxiproxy), whose
 * latency is set here; app servers and the control plane reach each datacenter directly.
 */
export async function storesOverLinks(cfg: ExperimentConfig, strategy: DataStrategy, rttMs: number | undefined): Promise<StoresOverLinks> {
  // The strategy's own refusal first (a replicate run without a replicate section), then the link's.
  const direct = storeFactoryFor(cfg.store, strategy);
  if (rttMs === undefined) return { stores: direct, description: '', close: async () => {} };
  const store = cfg.store;
  if (store.kind !== 'cassandra')
    throw new ExperimentError('NW_EXP_USAGE', '--n2-rtt needs a store of kind cassandra (the in-memory stores have no link to N2)');
  if (strategy === 'replicate' && !store.replicate?.linkProxies.length)
    throw new ExperimentError(
      'NW_EXP_USAGE',
      '--n2-rtt with --strategy replicate needs store.replicate.linkProxies: start the cluster with ' +
        'NW_CASSANDRA_DC_LINK=toxiproxy scripts/cassandra-dc.sh up and list its proxies (configs/experiment.replicate.yaml)',
    );
  const links = await RttLinks.connect(cfg.toxiproxy.apiUrl);
  try {
    await links.setRtt(rttMs);
    if (strategy === 'replicate') {
      for (const name of store.replicate?.linkProxies ?? []) await links.attach(name);
      return {
        stores: storeFactoryFor(store, strategy),
        description: `datacenter link RTT ${rttMs} ms (Toxiproxy)`,
        close: () => links.dispose(),
      };
    }
    const run = randomBytes(3).toString('hex');
    const n2 = store.cassandra.n2;
    const cassandra = split(await links.link(`nw-exp-${run}-n2-cassandra`, hostPort(n2.contactPoints[0]!, n2.port)));
    const redis = split(await links.link(`nw-exp-${run}-n2-redis`, `${store.redis.n2.host}:${store.redis.n2.port}`));
    const fromN1: N2AsSeenFromN1 = {
      cassandra: { ...n2, contactPoints: [cassandra.host], port: cassandra.port },
      redis: { ...store.redis.n2, host: redis.host, port: redis.port },
    };
    return {
      stores: storeFactoryFor(store, strategy, fromN1),
      description: `app-to-N2 link RTT ${rttMs} ms (Toxiproxy)`,
      close: () => links.dispose(),
    };
  } catch (err) {
    await links.dispose();
    throw err;
  }
}
