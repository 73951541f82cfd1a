import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AppServers, appServersAt, type Side } from './app-servers.js';
import type { BackedAppInput } from './backed-app-stores.js';
import { BACKED_PLAN_SYNC, type BackedStores } from './backed-stores-config.js';
import { type CoordinatorSettings, coordinatorSection } from './campaign-coordinator.js';
import type { CampaignKeyspace } from './campaign-keyspace.js';
import { type CampaignChild, spawnCampaignChild } from './child-process.js';
import { freePort } from './free-port.js';

export interface BackedAppServersOptions {
  readonly stores: BackedStores;
  readonly keyspace: CampaignKeyspace;
  /** N1's data layer joins the campaign's fleet with the members' identity. */
  readonly coordinator: CoordinatorSettings;
  readonly leaseMs: number;
  readonly logDir: string;
}

/** How long a read of a side's store is retried (its cluster may have just come back from a restart). */
const SNAPSHOT_RETRY_MS = 60_000;

/**
 * N1 and N2 of the Cassandra variant: backed-app-main.ts processes on fixed ports (the gateways
 * and control planes keep their URLs), started for each round of apps: their tables are created
 * first (and the last round's dropped), N1's data layer joins the fleet as `datalayer-n1.<round>`
 * following that round's apps. Between rounds nothing runs: `useApps` starts them.
 */
export async function startBackedAppServers(o: BackedAppServersOptions): Promise<AppServers> {
  const ports: Record<Side, number> = { n1: await freePort(), n2: await freePort() };
  const url = { n1: `http://127.0.0.1:${ports.n1}`, n2: `http://127.0.0.1:${ports.n2}` };
  const dir = mkdtempSync(join(tmpdir(), 'nw-chaos-app-'));
  const children: Partial<Record<Side, CampaignChild>> = {};
  let round = 0;
  let apps: readonly string[] = [];
  const memberId = (): string => `datalayer-n1.${round}`;

  const stopAll = async (): Promise<void> => {
    await Promise.all(Object.values(children).map((c) => c.stop()));
    delete children.n1;
    delete children.n2;
  };
  const start = async (side: Side): Promise<void> => {
    const config: BackedAppInput = {
      deployment: side,
      port: ports[side],
      apps: [...apps],
      stores: o.stores,
      ...(side === 'n1'
        ? { member: { coordinator: coordinatorSection(o.coordinator, 'member'), memberId: memberId(), leaseMs: o.leaseMs } }
        : {}),
    };
    const file = join(dir, `app-${side}.${round}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    children[side] = await spawnCampaignChild({
      name: `app-${side}.${round}`,
      script: 'loadgen/chaos/environment/backed-app-main.ts',
      args: ['--config', file],
      readyPatterns: [/listening on (http:\/\/\S+)/],
      logFile: join(o.logDir, `app-${side}.log`),
    });
  };

  const admin = appServersAt(url);
  return {
    ...admin,
    planSync: BACKED_PLAN_SYNC,
    async useApps(next) {
      await stopAll();
      if (apps.length > 0) await o.keyspace.dropTables(apps);
      await o.keyspace.createTables(next);
      apps = [...next];
      round += 1;
      await start('n1');
      await start('n2');
    },
    liveMembers: () => (children.n1?.running() ? [memberId()] : []),
    async snapshot(side, prefix) {
      for (const t0 = Date.now(); ; ) {
        try {
          return await admin.snapshot(side, prefix);
        } catch (err) {
          if (Date.now() - t0 > SNAPSHOT_RETRY_MS) throw err;
          await sleep(500);
        }
      }
    },
    stop: stopAll,
  };
}
