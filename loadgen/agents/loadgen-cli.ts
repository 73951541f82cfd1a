#!/usr/bin/env node
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { readConfigFile } from '../../platform/index.js';
import { coordinatorFromFile } from './coordinator-file.js';
import { runLoadAgent } from './load-agent.js';
import { LoadAgentError, isLoadAgentError } from './load-agent-errors.js';
import { runLoadController } from './load-controller.js';
import { agentIdSchema, loadRunIdSchema } from './load-run-documents.js';
import { writeLoadRunReport } from './load-run-report.js';
import { parseLoadSpec } from './load-spec.js';

const USAGE = `usage: northwest-loadgen <command> [options]      (from the sources: npm run loadgen -- <command> ...)

Several load agents, on as many hosts, measured as one: they join a load run in the fleet's
coordinator, start together, and the controller merges their HDR histograms into one report.

commands:
  agent        join a load run and send this agent's share of the load when the run starts
  controller   create a load run, wait for the agents, start them together, merge their results

agent options:
  --coordinator FILE   a gateway config (its fleet.coordinator section: the members' identity),
                       or a file with just that section
  --run ID             the load run to join
  --id NAME            this agent's id (default <hostname>-<pid>)
  --wait S             longest wait for the run to appear, and then to start (default 600)
  --linger S           after the run's results deadline, longest wait for the controller (default 60)

controller options:
  --coordinator FILE   a control-plane config (its coordinator section: the control plane's
                       identity), or a file with just that section
  --run ID             the run's id (default load-<timestamp>)
  --agents N           start once N agents have joined (required)
  --spec FILE          the load (YAML or JSON): targets, host, rate (all agents together),
                       durationS, connections, timeoutS, drainS, workload (required)
  --out DIR            report.json and report.md (default results/<timestamp>)
  --join-timeout S     longest wait for the agents to join (default 120)
  --lead MS            start time this far after the start document is written (default 2000)
  --tolerance MS       an agent seeing the start later than start + this does not run (default 500)
  --result-grace S     after start + duration + drain, how long to wait for results (default 30)
  --keep               leave the run's nodes in the coordinator

  -h, --help           this text

exit code: 0 the agent's share was collected / every agent reported within the start tolerance;
1 otherwise or on a runtime error; 2 bad command line or config.`;

const number = (flag: string, v: string, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new LoadAgentError('NW_LG_USAGE', `${flag} must be a number >= ${min}, got ${JSON.stringify(v)}`);
  return n;
};

function required(flag: string, v: string | undefined): string {
  if (v === undefined) throw new LoadAgentError('NW_LG_USAGE', `${flag} is required`);
  return v;
}

function id(flag: string, v: string, schema: typeof loadRunIdSchema): string {
  const r = schema.safeParse(v);
  if (!r.success) throw new LoadAgentError('NW_LG_USAGE', `${flag}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const stamp = (d = new Date()): string => d.toISOString().replace(/[:.]/g, '-');

async function agentCommand(v: Record<string, string | boolean | undefined>): Promise<number> {
  const agent = id(
    '--id',
    typeof v.id === 'string' ? v.id : `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${process.pid}`,
    agentIdSchema,
  );
  const run = id('--run', required('--run', v.run as string | undefined), loadRunIdSchema);
  const coordinator = coordinatorFromFile(required('--coordinator', v.coordinator as string | undefined), 'member');
  const outcome = await runLoadAgent({
    coordinator,
    run,
    agent,
    waitMs: number('--wait', v.wait as string, 1) * 1000,
    lingerMs: number('--linger', v.linger as string, 0) * 1000,
    log,
  });
  return outcome.result.outcome === 'completed' && outcome.end.outcome === 'collected' ? 0 : 1;
}

async function controllerCommand(v: Record<string, string | boolean | undefined>): Promise<number> {
  const run = id('--run', typeof v.run === 'string' ? v.run : `load-${stamp()}`, loadRunIdSchema);
  const agents = number('--agents', required('--agents', v.agents as string | undefined), 1);
  if (!Number.isInteger(agents)) throw new LoadAgentError('NW_LG_USAGE', '--agents must be a whole number');
  const specFile = required('--spec', v.spec as string | undefined);
  const spec = parseLoadSpec(
    readConfigFile(specFile, (detail, cause) => new LoadAgentError('NW_LG_CONFIG_INVALID', detail, { cause })),
    specFile,
  );
  const coordinator = coordinatorFromFile(required('--coordinator', v.coordinator as string | undefined), 'controlplane');
  const outDir = typeof v.out === 'string' ? v.out : `results/${stamp()}`;
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const report = await runLoadController({
    coordinator,
    run,
    agents,
    spec,
    joinTimeoutMs: number('--join-timeout', v['join-timeout'] as string, 1) * 1000,
    leadMs: number('--lead', v.lead as string, 0),
    toleranceMs: number('--tolerance', v.tolerance as string, 0),
    resultGraceMs: number('--result-grace', v['result-grace'] as string, 0) * 1000,
    keep: v.keep === true,
    log,
    signal: stop.signal,
  });
  const files = writeLoadRunReport(outDir, report);
  const m = report.merged;
  const p99 = Number.isFinite(m.latencyUs.p99) ? `${(m.latencyUs.p99 / 1000).toFixed(2)} ms` : '–';
  process.stdout.write(
    `load run ${run}: ${m.agents} of ${report.agents.length} agents reported, ${m.requests} requests, ${m.errors} errors, p99 ${p99}` +
      `${report.missing.length ? `; missing: ${report.missing.join(', ')} (NW_LG_AGENT_MISSING or the agent's code)` : ''}` +
      `${report.starts.withinTolerance ? '' : '; an agent started outside the tolerance'}\n${files.join('\n')}\n`,
  );
  return report.ok ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      coordinator: { type: 'string' },
      run: { type: 'string' },
      id: { type: 'string' },
      wait: { type: 'string', default: '600' },
      linger: { type: 'string', default: '60' },
      agents: { type: 'string' },
      spec: { type: 'string' },
      out: { type: 'string' },
      'join-timeout': { type: 'string', default: '120' },
      lead: { type: 'string', default: '2000' },
      tolerance: { type: 'string', default: '500' },
      'result-grace': { type: 'string', default: '30' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (rest.length) throw new LoadAgentError('NW_LG_USAGE', `unexpected argument ${JSON.stringify(rest[0])}`);
  if (command === 'agent') return agentCommand(values);
  if (command === 'controller') return controllerCommand(values);
  throw new LoadAgentError('NW_LG_USAGE', command ? `unknown command ${JSON.stringify(command)}` : 'no command given');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const usage = isLoadAgentError(err, 'NW_LG_USAGE');
    const parseError = err instanceof TypeError && String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    const code = (err as { code?: unknown }).code;
    const prefix = typeof code === 'string' && code.startsWith('NW_') ? `${code}: ` : '';
    process.stderr.write(`northwest-loadgen: ${prefix}${(err as Error).message}\n${usage || parseError ? `\n${USAGE}\n` : ''}`);
    process.exit(usage || parseError || isLoadAgentError(err, 'NW_LG_CONFIG_INVALID') ? 2 : 1);
  },
);
