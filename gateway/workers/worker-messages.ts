/**
 * What the primary of a multi-worker gateway and its workers say to each other over the IPC
 * channel of child_process.fork (JSON, one object per message; a connection travels as the handle
 * of a `connection` message). Both sides check what they receive: a message that does not parse is
 * a bug, logged and dropped, never half-applied.
 */
import { z } from 'zod';
import { GATEWAY_ERRORS, GatewayError, type GatewayErrorCode } from '../errors.js';

const listenerAddressSchema = z.object({ host: z.string(), port: z.number(), url: z.string() });

/** An error as it crosses the channel: its catalogue code (or none) and its message. */
export const wireErrorSchema = z.object({ code: z.string().optional(), message: z.string() });
export type WireError = z.output<typeof wireErrorSchema>;

export function toWire(err: unknown): WireError {
  const code = (err as { code?: unknown }).code;
  return { ...(typeof code === 'string' ? { code } : {}), message: err instanceof Error ? err.message : String(err) };
}

function isGatewayCode(code: string | undefined): code is GatewayErrorCode {
  return code !== undefined && Object.hasOwn(GATEWAY_ERRORS, code);
}

/** The error again, as the primary raises it: a GatewayError with the worker's code and detail (its message without the catalogue's). */
export function fromWire(w: WireError): Error {
  if (!isGatewayCode(w.code)) return Object.assign(new Error(w.message), w.code === undefined ? {} : { code: w.code });
  const prefix = GATEWAY_ERRORS[w.code].message;
  const detail = w.message === prefix ? undefined : w.message.startsWith(`${prefix}: `) ? w.message.slice(prefix.length + 2) : w.message;
  return new GatewayError(w.code, detail);
}

/**
 * The lease as the primary holds it: when it was last confirmed, on CLOCK_MONOTONIC (ms), which
 * every process of the host reads alike (process.hrtime); null when it is not held.
 */
const leaseSchema = z.number().nullable();

export const primaryMessageSchema = z.discriminatedUnion('t', [
  /** The first message a worker gets: what it runs, the states in force and where its listeners are. */
  z.object({
    t: z.literal('init'),
    worker: z.number().int(),
    /** The node's config (admin section removed: the primary serves it), checked again by the worker. */
    config: z.unknown(),
    /** The states the node has handed out, by app: applied before the worker takes a connection. */
    states: z.record(z.string(), z.unknown()),
    /** Apps that take traffic without a state (their state node is absent). */
    ready: z.array(z.string()),
    leaseConfirmedAt: leaseSchema,
    listeners: z.array(listenerAddressSchema),
    /** TLS session ticket keys of the node (base64, 48 bytes). */
    ticketKeys: z.string(),
  }),
  /** Apply these states; `forAck`: a fleet state, refused (NW_GW_MIRROR_DIVERGED) as a single gateway would refuse to ack it. */
  z.object({ t: z.literal('apply'), id: z.number(), states: z.record(z.string(), z.unknown()), forAck: z.boolean() }),
  z.object({ t: z.literal('ready'), apps: z.array(z.string()) }),
  z.object({ t: z.literal('lease'), confirmedAt: leaseSchema }),
  z.object({ t: z.literal('reload'), id: z.number(), config: z.unknown() }),
  z.object({ t: z.literal('writes-ended'), id: z.number(), apps: z.array(z.string()), timeoutMs: z.number() }),
  z.object({ t: z.literal('metrics'), id: z.number() }),
  /** The socket handle that comes with it is a connection the primary accepted on listener `listener`. */
  z.object({ t: z.literal('connection'), listener: z.number().int() }),
  /** Drain and exit; `graceMs`: then wait this long at most for cut writes' outcomes (a fleet member). */
  z.object({ t: z.literal('shutdown'), id: z.number(), graceMs: z.number().nullable() }),
]);
export type PrimaryMessage = z.output<typeof primaryMessageSchema>;

export const workerMessageSchema = z.discriminatedUnion('t', [
  /** The worker's process runs and listens to its channel: it waits for `init`. */
  z.object({ t: z.literal('hello') }),
  /** Init done: the states are applied; the worker may be given connections. */
  z.object({ t: z.literal('serving') }),
  z.object({ t: z.literal('init-failed'), error: wireErrorSchema }),
  /** The answer to the request `id`: its value, or the error it failed with. */
  z.object({ t: z.literal('reply'), id: z.number(), value: z.unknown().optional(), error: wireErrorSchema.optional() }),
]);
export type WorkerMessage = z.output<typeof workerMessageSchema>;

export const applyResultSchema = z.object({
  apps: z.array(
    z.object({
      app: z.string(),
      epoch: z.number(),
      mode: z.enum(['serve', 'mirror', 'fence', 'proxy', 'redirect']),
      previousMode: z.enum(['serve', 'mirror', 'fence', 'proxy', 'redirect']),
      releasedWrites: z.number(),
      drained: z.array(z.enum(['n1', 'n2'])),
      drainMs: z.number(),
    }),
  ),
});
