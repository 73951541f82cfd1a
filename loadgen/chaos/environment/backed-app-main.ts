/**
 * An app server of the campaign's Cassandra variant: the reference app with its campaign
 * instrumentation (commit log, fault switch, WebSocket writes, /_admin/snapshot of Cassandra) on
 * the stores backed-app-stores.ts builds. Prints `listening on <url>` once it serves.
 *
 *   backed-app-main.ts --config FILE.json     (BackedAppSchema)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../../../platform/index.js';
import { startReferenceApp } from '../../reference-app/index.js';
import { BackedAppSchema, openBackedAppStore } from './backed-app-stores.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  if (!values.config) throw new Error('usage: backed-app-main.ts --config FILE');
  const cfg = BackedAppSchema.parse(JSON.parse(readFileSync(values.config, 'utf8')));
  const logger = createLogger('info', { component: 'backed-app', deployment: cfg.deployment });
  const stores = await openBackedAppStore(cfg, logger);
  const app = await startReferenceApp({
    deployment: cfg.deployment,
    port: cfg.port,
    store: stores.store,
    commitLog: true,
    admin: true,
    webSocket: true,
  });
  process.stdout.write(`reference-app ${cfg.deployment} (Cassandra ${cfg.stores.keyspace}) listening on ${app.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await app.close();
  await stores.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`backed-app-main: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
