import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startReferenceApp } from './reference-app.js';

const CliOptions = z
  .object({
    deployment: z.string().min(1),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(0),
    'commit-log': z.boolean().default(false),
    admin: z.boolean().default(false),
    'web-socket': z.boolean().default(false),
  })
  .strict();

/**
 * `tsx loadgen/reference-app/reference-app-cli.ts --deployment n1 [--port 8081] [--host 127.0.0.1]
 *  [--commit-log] [--admin] [--web-socket]` (the last three: the chaos campaign's instrumentation)
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      deployment: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'commit-log': { type: 'boolean' },
      admin: { type: 'boolean' },
      'web-socket': { type: 'boolean' },
    },
    strict: true,
  });
  const parsed = CliOptions.safeParse(values);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n');
    process.stderr.write(`reference-app: invalid options:\n${msg}\n`);
    process.exit(2);
  }
  const o = parsed.data;
  const app = await startReferenceApp({
    deployment: o.deployment,
    host: o.host,
    port: o.port,
    commitLog: o['commit-log'],
    admin: o.admin,
    webSocket: o['web-socket'],
  });
  process.stdout.write(`reference-app ${o.deployment} listening on ${app.url}\n`);
  const stop = (): void => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`reference-app: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
