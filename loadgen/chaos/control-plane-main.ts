/**
 * A control-plane process of the chaos campaign: `northwest serve` plus the campaign's sync hooks
 * (the CLI registers only the hooks of its config file): `copy-n1-to-n2` for the in-memory app
 * servers, and with `--stores` (the Cassandra variant) the real `cache` and `datastore` hooks,
 * built per app (environment/per-app-sync-hooks.ts). Prints the admin URL as `admin: <url>` once
 * it has joined the election.
 *
 *   control-plane-main.ts --config FILE.json --n1 URL --n2 URL [--stores STORES.json]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseControlPlaneConfig, type SyncHook, startControlPlaneProcess } from '../../controlplane/index.js';
import { createCoordinator, createLogger } from '../../platform/index.js';
import { BackedStoresSchema } from './environment/backed-stores-config.js';
import { copyHookAt } from './environment/copy-hook.js';
import { perAppSyncHooks } from './environment/per-app-sync-hooks.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, n1: { type: 'string' }, n2: { type: 'string' }, stores: { type: 'string' } },
  });
  if (!values.config || !values.n1 || !values.n2)
    throw new Error('usage: control-plane-main.ts --config FILE --n1 URL --n2 URL [--stores FILE]');
  const config = parseControlPlaneConfig(JSON.parse(readFileSync(values.config, 'utf8')), values.config);
  const logger = createLogger(config.log.level, { component: 'controlplane', id: config.id });
  // the backed hooks keep snapshot checkpoints in the control plane's own tree, as configured ones do
  const coordinator = createCoordinator(config.coordinator, 'controlplane');
  const backed = values.stores
    ? perAppSyncHooks(BackedStoresSchema.parse(JSON.parse(readFileSync(values.stores, 'utf8'))), { coordinator, logger })
    : undefined;
  const syncHooks = new Map<string, SyncHook>([['copy-n1-to-n2', copyHookAt(values.n1, values.n2)], ...(backed?.hooks ?? [])]);
  const proc = await startControlPlaneProcess(config, { syncHooks, coordinator, logger });
  process.stderr.write(`control plane ${config.id}\n  admin: ${proc.adminAddress.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await proc.stop();
  await backed?.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`control-plane-main: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
