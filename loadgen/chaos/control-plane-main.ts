/**
 * A control-plane process of the chaos campaign: `northwest serve` plus the sync hook
 * `copy-n1-to-n2` for the campaign's in-memory app servers (the CLI registers only the hooks of
 * its config file). Prints the admin URL as `admin: <url>` once it has joined the election.
 *
 *   control-plane-main.ts --config FILE.json --n1 URL --n2 URL
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseControlPlaneConfig, startControlPlaneProcess } from '../../controlplane/index.js';
import { copyHookAt } from './environment/copy-hook.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, n1: { type: 'string' }, n2: { type: 'string' } } });
  if (!values.config || !values.n1 || !values.n2) throw new Error('usage: control-plane-main.ts --config FILE --n1 URL --n2 URL');
  const config = parseControlPlaneConfig(JSON.parse(readFileSync(values.config, 'utf8')), values.config);
  const proc = await startControlPlaneProcess(config, { syncHooks: new Map([['copy-n1-to-n2', copyHookAt(values.n1, values.n2)]]) });
  process.stderr.write(`control plane ${config.id}\n  admin: ${proc.adminAddress.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await proc.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`control-plane-main: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
