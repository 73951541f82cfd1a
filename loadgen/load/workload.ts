import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Operation } from '../load-model.js';
import { mulberry32 } from './prng.js';
import { ZipfianGenerator } from './zipfian.js';

/** Options of a key-value workload; validated once by `WorkloadOptionsSchema`. */
export const WorkloadOptionsSchema = z
  .object({
    /** Share of operations that are reads (GET); the rest are writes (PUT) and deletes. */
    readRatio: z.number().min(0).max(1),
    /** Share of operations that are deletes; readRatio + deleteRatio must not exceed 1. */
    deleteRatio: z.number().min(0).max(1).default(0),
    /** Number of distinct keys. */
    keys: z.number().int().min(1).max(10_000_000),
    distribution: z.enum(['uniform', 'zipfian']).default('uniform'),
    /** Zipfian skew, in (0, 1); YCSB's default 0.99. */
    theta: z.number().gt(0).lt(1).default(0.99),
    /** Size of each written value; values longer than this (the unique id) are not truncated. */
    valueBytes: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024)
      .default(64),
    /** PRNG seed: the same seed gives the same sequence of operations and keys. */
    seed: z.number().int().default(1),
    /** Prefix of every written value, so values are unique across runs; random by default. */
    runId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/)
      .optional(),
  })
  .strict()
  .refine((o) => o.readRatio + o.deleteRatio <= 1, { message: 'readRatio + deleteRatio must be at most 1', path: ['deleteRatio'] });

export type WorkloadOptionsInput = z.input<typeof WorkloadOptionsSchema>;
export type WorkloadOptions = Readonly<Required<z.output<typeof WorkloadOptionsSchema>>>;

/** One operation the load generator is to send. */
export interface PlannedOperation {
  readonly op: Operation;
  readonly key: string;
  /** For writes: the value to PUT, unique per write (`<runId>-<seq>` padded to valueBytes). */
  readonly value?: string;
}

/** Parses workload options, naming the field on error (`where` names the source, e.g. a file). */
export function parseWorkloadOptions(input: unknown, where = 'workload'): WorkloadOptions {
  const r = WorkloadOptionsSchema.safeParse(input);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${where}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new Error(`workload options are invalid:\n${msg}`);
  }
  return Object.freeze({ ...r.data, runId: r.data.runId ?? randomBytes(4).toString('hex') });
}

/** The key name for index i; URL-safe, fixed width so keys sort by index. */
export function keyName(i: number, keys: number): string {
  return `key-${String(i).padStart(String(keys - 1).length, '0')}`;
}

/** A reproducible stream of key-value operations. */
export class Workload {
  readonly options: WorkloadOptions;
  private readonly random: () => number;
  private readonly pickKey: () => number;
  private writeSeq = 0;

  constructor(input: WorkloadOptionsInput | WorkloadOptions) {
    this.options = parseWorkloadOptions(input);
    const o = this.options;
    this.random = mulberry32(o.seed);
    if (o.distribution === 'zipfian') {
      const z = new ZipfianGenerator(o.keys, o.theta, this.random);
      this.pickKey = () => z.next();
    } else {
      this.pickKey = () => Math.floor(this.random() * o.keys);
    }
  }

  /** Number of writes produced so far. */
  get writes(): number {
    return this.writeSeq;
  }

  nextOperation(): PlannedOperation {
    const o = this.options;
    const r = this.random();
    const key = keyName(this.pickKey(), o.keys);
    if (r < o.readRatio) return { op: 'read', key };
    if (r < o.readRatio + o.deleteRatio) return { op: 'delete', key };
    this.writeSeq += 1;
    const id = `${o.runId}-${String(this.writeSeq).padStart(10, '0')}`;
    return { op: 'write', key, value: id.length >= o.valueBytes ? id : id + '.'.repeat(o.valueBytes - id.length) };
  }
}

/** The HTTP request an operation becomes: the reference app's by default (kvRequest), an app's own API in attach mode. */
export interface OperationRequest {
  readonly method: string;
  readonly path: string;
  /** Sent as the body when present (and non-empty). */
  readonly body?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Turns a planned operation into the request that carries it. */
export type RequestFor = (op: PlannedOperation) => OperationRequest;

/** The reference app's request for an operation: its method and path, the value as the body of a write. */
export const kvRequest: RequestFor = (op) => ({ ...httpFor(op), body: op.value });

/** HTTP method and path for an operation against the reference app. */
export function httpFor(op: PlannedOperation): { method: 'GET' | 'PUT' | 'DELETE'; path: string } {
  const path = `/kv/${op.key}`;
  if (op.op === 'read') return { method: 'GET', path };
  if (op.op === 'delete') return { method: 'DELETE', path };
  return { method: 'PUT', path };
}
