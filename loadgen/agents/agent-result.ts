/**
 * What an agent publishes when its part of the run is over: its latency histograms (HDR,
 * compressed base64) and per-second counts by the deployment that answered, or why it did not
 * run. Plain data, checked with a schema when the controller reads it.
 */
import { z } from 'zod';
import { agentIdSchema } from './load-run-documents.js';

export const servedBySchema = z.enum(['n1', 'n2', 'none', 'unknown']);

/** One deployment's counts, one entry per second since the run's start time (by completion). */
export const seriesSchema = z.object({
  servedBy: servedBySchema,
  requests: z.array(z.number().int().min(0)).max(1_000_000),
  errors: z.array(z.number().int().min(0)).max(1_000_000),
});
export type AgentSeries = z.output<typeof seriesSchema>;

/** An encoded histogram (hdr-histogram-js compressed base64). */
const encodedHistogram = z
  .string()
  .max(16 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/=]*$/);

const who = { agent: agentIdSchema, host: z.string().max(255), pid: z.number().int().min(0) };

export const completedResultSchema = z.object({
  outcome: z.literal('completed'),
  ...who,
  /** When the agent's first request fell due, epoch ms by its clock. */
  startedAtEpochMs: z.number(),
  /** Load and drain, ms. */
  durationMs: z.number().min(0),
  /** Requests that got a reply or failed (a socket error, a timeout); the histograms count exactly these. */
  requests: z.number().int().min(0),
  /** Of those, not 2xx/3xx. */
  errors: z.number().int().min(0),
  /** Requests still without a reply when the drain time ran out (not in the histograms). */
  unfinished: z.number().int().min(0),
  /** Failed requests by `x-northwest-error`, socket error code or `HTTP <status>`. */
  byError: z.record(z.string().max(256), z.number().int().min(0)),
  /** Latency of every request, microseconds. */
  latency: encodedHistogram,
  latencyByServedBy: z.partialRecord(servedBySchema, encodedHistogram),
  series: z.array(seriesSchema).max(4),
});
export type CompletedResult = z.output<typeof completedResultSchema>;

/** An agent that did not run its share (late start, a load failure): the code says why. */
export const failedResultSchema = z.object({
  outcome: z.literal('failed'),
  ...who,
  code: z.string().regex(/^NW_[A-Z0-9_]{1,64}$/),
  detail: z.string().max(4096),
});
export type FailedResult = z.output<typeof failedResultSchema>;

export const agentResultSchema = z.discriminatedUnion('outcome', [completedResultSchema, failedResultSchema]);
export type AgentResult = z.output<typeof agentResultSchema>;
