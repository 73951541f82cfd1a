#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { MigrationEventsPage } from './admin/migration-events.js';
import { AdminCallError, AdminClient } from './cli/admin-client.js';
import { followMigration } from './cli/follow.js';
import { formatOutcome, formatStatus } from './cli/format.js';
import { loadControlPlaneConfig } from './config.js';
import type { FleetStatus } from './control-plane.js';
import { isControlError } from './errors.js';
import type { MigrationLog } from './migration/migration-log.js';
import { loadPlan } from './migration/plan.js';
import { MIGRATION_ID_PATTERN } from '../protocol/identifiers.js';
import { installLastResortHandlers } from '../platform/last-resort-handlers.js';
import { createLogger } from '../platform/logger.js';

const DEFAULT_URL = 'http://127.0.0.1:9911';

const USAGE = `usage: northwest <command> [options]
       from a checkout: npx tsx controlplane/cli.ts <command> [options]
                    or: npm run northwest -- <command> [options]

commands:
  serve --config FILE                          run a control plane and its admin API
  status [--json]                              members, apps with their acks, migrations
  migrate --plan FILE [--wait] [--timeout S]   start a migration (and follow it to the end)
  pause ID                                     pause a migration before its next phase
  resume ID                                    let a paused migration go on
  abort ID [--reason TEXT]                     stop a migration and roll it back
  watch ID                                     print a migration's phase timeline until it ends
  finalize ID                                  retire N1's copy of a done migration (replicate: repair, drop N1's DC)

common options:
  --url URL    admin API (default $NORTHWEST_CONTROL_URL, else ${DEFAULT_URL})
  --help       help for a command
The admin token is read from $NORTHWEST_ADMIN_TOKEN.

exit codes: 0 ok, 1 the operation failed (northwest: <CODE>: <message>),
            2 usage error or invalid input (a plan or config file: names the file and field)`;

const HELP: Readonly<Record<string, string>> = {
  serve: `usage: northwest serve --config FILE

Starts a control plane (joins the coordinator and the leader election) and its
loopback admin API, and prints the admin URL. SIGTERM or SIGINT stops it
gracefully (exit 0). The admin token is read from the variable named by
admin.tokenEnv (default NORTHWEST_ADMIN_TOKEN). Examples: configs/controlplane.*.yaml`,
  status: `usage: northwest status [--json] [--url URL]

Live members (id, kind, host, pid, apps); apps (epoch, mode, lock, how many
members acked the current epoch and which have not); migrations (status, phase).
--json prints the admin API's /status document instead.`,
  migrate: `usage: northwest migrate --plan FILE [--wait] [--timeout S] [--url URL]

Checks the plan (YAML, or JSON for .json) locally, then starts the migration.
--wait        follow the phase timeline until the migration ends;
              exit 0 only if it is done (1 if rolled back or failed)
--timeout S   with --wait: stop following after S seconds (exit 1, NW_CP_WAIT_TIMEOUT);
              the migration keeps running`,
  pause: `usage: northwest pause ID [--url URL]

Asks the leader to pause the migration before its next phase.`,
  resume: `usage: northwest resume ID [--url URL]

Lets a paused migration go on (a phase paused on a barrier timeout runs again).`,
  abort: `usage: northwest abort ID [--reason TEXT] [--url URL]

Asks the leader to stop the migration and roll every app back to N1.`,
  finalize: `usage: northwest finalize ID [--url URL]

For a done migration whose datastore moved with the replicate strategy: runs a
full repair from N2's datacenter, then drops N1's datacenter from the keyspaces'
replication (each step is a note in the migration's log). Waits until it is
finished. Decommissioning N1's nodes is left to the operator (docs/operations.md).`,
  watch: `usage: northwest watch ID [--url URL]

Prints one line per event of the migration (time, event, phase, duration,
barrier members/missing, detail) until it ends; on a terminal a progress line
is redrawn below. Exit 0 if the migration is done, 1 if it rolled back or failed.`,
};

/** Wrong command line: exit 2 with a hint. */
class UsageError extends Error {}

/** Every flag of every command; `parse` refuses the ones a command does not take. */
const OPTIONS = {
  url: { type: 'string' },
  help: { type: 'boolean' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  plan: { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  reason: { type: 'string' },
} as const;
type Flag = keyof typeof OPTIONS;

function parse(cmd: string, args: string[], flags: readonly Flag[], positionals: number) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${cmd}: ${(err as Error).message}`);
  }
  const allowed = new Set<string>(['url', 'help', ...flags]);
  const extra = Object.keys(parsed.values).find((k) => !allowed.has(k));
  if (extra) throw new UsageError(`${cmd}: unknown option --${extra}`);
  if (!parsed.values.help && parsed.positionals.length !== positionals) {
    throw new UsageError(positionals === 0 ? `${cmd}: unexpected argument ${parsed.positionals[0]}` : `${cmd}: expected a migration ID`);
  }
  return parsed;
}

function client(url: string | undefined): AdminClient {
  return new AdminClient(url ?? process.env.NORTHWEST_CONTROL_URL ?? DEFAULT_URL, process.env.NORTHWEST_ADMIN_TOKEN || undefined);
}

function migrationId(cmd: string, id: string | undefined): string {
  if (id === undefined || !MIGRATION_ID_PATTERN.test(id))
    throw new UsageError(`${cmd}: migration IDs are 1-64 characters of [A-Za-z0-9._-]`);
  return id;
}

/** Prints how a followed migration ended; 0 only if it is done. */
function outcome(page: MigrationEventsPage): number {
  process.stdout.write(`${formatOutcome(page)}\n`);
  if (page.status === 'done') return 0;
  if (page.error) process.stderr.write(`northwest: ${page.error.code}: ${page.error.message}\n`);
  else process.stderr.write(`northwest: migration ${page.id} ended ${page.status}\n`);
  return 1;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parse('serve', args, ['config'], 0);
  if (values.help) return help('serve');
  if (!values.config) throw new UsageError('serve: --config is required');
  const config = loadControlPlaneConfig(values.config);
  // Loaded here so the client commands do not pull in the coordinator clients.
  const { startControlPlaneProcess } = await import('./control-plane-process.js');
  const logger = createLogger(config.log.level, { component: 'controlplane', id: config.id });
  // Before the start: the first leader's work begins inside it.
  const removeHandlers = installLastResortHandlers(logger, {
    unhandledRejection: 'NW_CP_UNHANDLED_REJECTION',
    uncaughtException: 'NW_CP_UNCAUGHT_EXCEPTION',
  });
  const proc = await startControlPlaneProcess(config, { logger });
  process.stderr.write(
    [
      `northwest control plane "${config.id}" is up (${config.coordinator.kind} coordinator, ` +
        `${proc.controlPlane.isLeader() ? 'leader' : 'standby'})`,
      `  admin:    ${proc.adminAddress.url}  (/healthz /status /migrations)`,
      `  try:      NORTHWEST_CONTROL_URL=${proc.adminAddress.url} npx tsx controlplane/cli.ts status`,
      '',
    ].join('\n'),
  );
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  proc.logger.info('controlplane.shutdown', { signal });
  await proc.stop();
  removeHandlers();
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values } = parse('status', args, ['json'], 0);
  if (values.help) return help('status');
  const s = await client(values.url).get<FleetStatus>('/status');
  process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
  return 0;
}

async function migrate(args: string[]): Promise<number> {
  const { values } = parse('migrate', args, ['plan', 'wait', 'timeout'], 0);
  if (values.help) return help('migrate');
  if (!values.plan) throw new UsageError('migrate: --plan is required');
  let timeoutS: number | undefined;
  if (values.timeout !== undefined) {
    timeoutS = Number(values.timeout);
    if (!values.wait) throw new UsageError('migrate: --timeout needs --wait');
    if (!Number.isFinite(timeoutS) || timeoutS <= 0)
      throw new UsageError(`migrate: --timeout expects seconds > 0, got "${values.timeout}"`);
  }
  const plan = loadPlan(values.plan);
  const c = client(values.url);
  const log = await c.post<MigrationLog>('/migrations', plan);
  process.stdout.write(`migration ${log.id} created (apps ${log.plan.apps.join(', ')})\n`);
  if (!values.wait) {
    process.stdout.write(`follow it with: northwest watch ${log.id}\n`);
    return 0;
  }
  return outcome(
    await followMigration(c, log.id, { out: process.stdout, ...(timeoutS ? { deadline: Date.now() + timeoutS * 1000 } : {}) }),
  );
}

async function control(verb: 'pause' | 'resume' | 'abort', args: string[]): Promise<number> {
  const { values, positionals } = parse(verb, args, verb === 'abort' ? ['reason'] : [], 1);
  if (values.help) return help(verb);
  const id = migrationId(verb, positionals[0]);
  const log = await client(values.url).post<MigrationLog>(
    `/migrations/${id}/${verb}`,
    values.reason ? { reason: values.reason } : undefined,
  );
  process.stdout.write(
    `${verb} requested for migration ${id} (now ${log.status}, phase ${log.phase ?? '-'}); the leader acts on it between steps\n`,
  );
  return 0;
}

async function finalize(args: string[]): Promise<number> {
  const { values, positionals } = parse('finalize', args, [], 1);
  if (values.help) return help('finalize');
  const id = migrationId('finalize', positionals[0]);
  const r = await client(values.url).post<{ id: string; hooks: Record<string, unknown> }>(`/migrations/${id}/finalize`);
  process.stdout.write(`migration ${id} finalized: ${JSON.stringify(r.hooks)}\n`);
  return 0;
}

async function watch(args: string[]): Promise<number> {
  const { values, positionals } = parse('watch', args, [], 1);
  if (values.help) return help('watch');
  return outcome(await followMigration(client(values.url), migrationId('watch', positionals[0]), { out: process.stdout }));
}

function help(cmd: string): number {
  process.stdout.write(`${HELP[cmd] ?? USAGE}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case 'serve':
      return serve(args);
    case 'status':
      return status(args);
    case 'migrate':
      return migrate(args);
    case 'pause':
    case 'resume':
    case 'abort':
      return control(cmd, args);
    case 'watch':
      return watch(args);
    case 'finalize':
      return finalize(args);
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case undefined:
      throw new UsageError('a command is required');
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

/** Invalid input (a plan or config the CLI or server refused) exits 2; any other failure 1. */
const INVALID_INPUT = new Set(['NW_CP_PLAN_INVALID']);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`northwest: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    if (isControlError(err) || err instanceof AdminCallError) {
      process.stderr.write(`northwest: ${err.code}: ${err.message}\n`);
      const local = isControlError(err);
      process.exit(INVALID_INPUT.has(err.code) || (local && err.code === 'NW_CP_CONFIG_INVALID') ? 2 : 1);
    }
    process.stderr.write(`northwest: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
