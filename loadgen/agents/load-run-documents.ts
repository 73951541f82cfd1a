/**
 * The documents of a load run in the coordinator (paths: protocol's `layout.loadRun*`). Each is
 * JSON, bounded in size and checked against its schema when read: an agent or a controller of
 * another version, or a broken node, gives a typed error naming the node, never a crash.
 */
import { z } from 'zod';
import { nodeIdSchema } from '../../protocol/index.js';
import { LoadAgentError, type LoadAgentErrorCode } from './load-agent-errors.js';
import { LoadSpecSchema } from './load-spec.js';

/** Run ids become a node name, a file name and part of a report title. */
export const loadRunIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'run ids are [A-Za-z0-9._-], at most 64 characters');
export const agentIdSchema = nodeIdSchema;

/** Join, start and end documents are small; anything near ZooKeeper's 1 MB node limit is refused unread. */
export const MAX_RUN_DOCUMENT_BYTES = 256 * 1024;

/** What an agent writes into its ephemeral join node. */
export const agentJoinSchema = z.object({
  agent: agentIdSchema,
  host: z.string().max(255),
  pid: z.number().int().min(0),
  joinedAt: z.string().max(64),
});
export type AgentJoin = z.output<typeof agentJoinSchema>;

/** The controller's start document: written once every expected agent has joined. */
export const startDocumentSchema = z.object({
  run: loadRunIdSchema,
  /** When every agent sends its first request, epoch ms (the agents' clocks must agree: NTP). */
  startAtEpochMs: z.number().int().min(0),
  /** An agent that sees this document later than startAt + toleranceMs does not run (NW_LG_START_MISSED). */
  toleranceMs: z.number().int().min(0),
  /** The agents taking part, sorted; an agent's position is its index (its share, its seed). */
  agents: z.array(agentIdSchema).min(1).max(1024),
  /** After this the controller stops waiting for results and reports the agents without one as missing. */
  resultsDeadlineEpochMs: z.number().int().min(0),
  spec: LoadSpecSchema,
});
export type StartDocument = z.output<typeof startDocumentSchema>;

/** The controller's last word: agents leave when they see it. */
export const endDocumentSchema = z.object({
  outcome: z.enum(['collected', 'aborted']),
  /** For 'aborted': why (a NW_LG_ code). */
  code: z.string().max(64).optional(),
  detail: z.string().max(4096).optional(),
});
export type EndDocument = z.output<typeof endDocumentSchema>;

/** Parses one run document; a bad one is `code` (NW_LG_CONFIG_INVALID, NW_LG_RESULT_INVALID…) naming the node. */
export function parseRunDocument<S extends z.ZodType>(
  schema: S,
  path: string,
  data: Buffer,
  code: LoadAgentErrorCode,
  maxBytes = MAX_RUN_DOCUMENT_BYTES,
): z.output<S> {
  if (data.length > maxBytes) throw new LoadAgentError(code, `${path}: ${data.length} bytes, over the limit of ${maxBytes}`);
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new LoadAgentError(code, `${path}: not JSON: ${(err as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length === 0 ? '(root)' : i.path.join('.')}: ${i.message}`);
  throw new LoadAgentError(code, `${path}: ${issues.join('; ')}`);
}

export function encodeDocument(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
