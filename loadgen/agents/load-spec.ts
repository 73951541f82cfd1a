/**
 * What a load run sends, as the controller writes it into the start document: targets, the
 * total rate, duration and the request mix. Each agent takes an equal share of the rate on every
 * target, with its own seed and value prefix, so agents neither send identical streams nor write
 * identical values.
 */
import { z } from 'zod';
import { formatIssues } from '../../platform/index.js';
import { WorkloadOptionsSchema, type WorkloadOptionsInput } from '../load/index.js';
import { LoadAgentError } from './load-agent-errors.js';

export const LoadSpecSchema = z.strictObject({
  /** Gateways (or app servers) to load; every agent loads each of them. */
  targets: z
    .array(z.url({ protocol: /^https?$/ }))
    .min(1)
    .max(64),
  /** Host header to send (selects the app at a gateway); the target's host by default. */
  host: z.string().min(1).max(255).optional(),
  /** Requests per second of all agents together, split evenly over agents and targets. */
  rate: z.number().positive().max(1_000_000),
  durationS: z.number().positive().max(86_400),
  /** Most connections per agent and target. */
  connections: z.number().int().min(1).max(10_000).default(10),
  /** Per-request timeout, seconds. */
  timeoutS: z.number().positive().max(600).default(10),
  /** After the last request fell due, how long an agent waits for replies, seconds. */
  drainS: z.number().positive().max(600).default(15),
  /** The request mix (reads, writes, deletes, keys), as the other load commands take it. */
  workload: WorkloadOptionsSchema,
});

export type LoadSpecInput = z.input<typeof LoadSpecSchema>;
export type LoadSpec = z.output<typeof LoadSpecSchema>;

/** Parses a load spec, naming the field (`source` names a file) in NW_LG_CONFIG_INVALID. */
export function parseLoadSpec(input: unknown, source = 'load spec'): LoadSpec {
  const r = LoadSpecSchema.safeParse(input);
  if (!r.success) throw new LoadAgentError('NW_LG_CONFIG_INVALID', `\n${formatIssues(source, r.error.issues)}`);
  return r.data;
}

/** One fixed-rate stream an agent runs. */
export interface AgentStream {
  readonly target: string;
  readonly rate: number;
}

/** What agent `index` of `agents` sends. */
export interface AgentShare {
  readonly streams: readonly AgentStream[];
  readonly workload: WorkloadOptionsInput;
}

/** Longest value prefix a workload takes (WorkloadOptionsSchema's runId). */
const RUN_ID_MAX = 32;

export function agentShare(spec: LoadSpec, index: number, agents: number): AgentShare {
  const rate = spec.rate / agents / spec.targets.length;
  const suffix = `-a${index}`;
  const { runId, seed, ...mix } = spec.workload;
  return {
    streams: spec.targets.map((target) => ({ target, rate })),
    workload: {
      ...mix,
      seed: (seed ?? 1) + index,
      ...(runId === undefined ? {} : { runId: runId.slice(0, RUN_ID_MAX - suffix.length) + suffix }),
    },
  };
}
