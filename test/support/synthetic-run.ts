/**
 * A deterministic synthetic switchover run for analysis and report tests:
 * steady load on N1, a handover command, a write fence, then everything on N2.
 */
import type { Operation, PhaseMark, Sample, ServedBy } from '../../loadgen/load-model.js';
import { mulberry32 } from '../../loadgen/load/prng.js';

export const SYNTHETIC_MARKS: readonly PhaseMark[] = [
  { t: 2050, label: 'prepare' },
  { t: 2400, label: 'sync' },
  { t: 5000, label: 'fence' },
  { t: 5250, label: 'proxy' },
  { t: 8000, label: 'redirect' },
  { t: 9000, label: 'dns' },
  { t: 12_000, label: 'done' },
];
export const SYNTHETIC_HANDOVER_AT = 2000;

export interface SyntheticOptions {
  readonly durationMs?: number;
  readonly ratePerSecond?: number;
  /** Number of socket errors to inject during the sync phase. */
  readonly failures?: number;
}

/** Requests every 1000/rate ms; N1 until proxy (5250 ms), N2 after; writes started during the fence are held until it ends. */
export function syntheticRun(options: SyntheticOptions = {}): Sample[] {
  const rand = mulberry32(42); // the load generator's seeded PRNG: fixtures are the same on every run
  const duration = options.durationMs ?? 14_000;
  const interval = 1000 / (options.ratePerSecond ?? 200);
  const fenceAt = 5000;
  const proxyAt = 5250;
  const samples: Sample[] = [];
  let n = 0;
  for (let start = 0; start < duration; start += interval, n++) {
    const r = rand();
    const op: Operation = r < 0.6 ? 'read' : r < 0.95 ? 'write' : 'delete';
    const key = `k${n % 50}`;
    const toN2 = start >= proxyAt;
    const base = toN2 ? 24 + rand() * 10 : 18 + rand() * 8;
    // The tail: one request in fifty is slow.
    let latency = rand() < 0.02 ? base * 4 : base;
    let servedBy: ServedBy = toN2 ? 'n2' : 'n1';
    if (op !== 'read' && start >= fenceAt && start < proxyAt) {
      latency = proxyAt - start + 24 + rand() * 10;
      servedBy = 'n2';
    }
    const end = start + latency;
    samples.push({
      start,
      end,
      latencyMs: latency,
      op,
      key,
      status: op === 'write' ? 201 : 200,
      servedBy,
      epoch: toN2 ? 4 : 1,
      ...(op === 'write' ? { value: `v${n}` } : {}),
    });
  }
  for (let k = 0; k < (options.failures ?? 0); k++) {
    const start = 2500 + k * 100;
    samples.push({
      start,
      end: start + 30,
      latencyMs: 30,
      op: 'read',
      key: 'kf',
      status: 0,
      servedBy: 'unknown',
      epoch: null,
      error: 'ECONNRESET',
    });
  }
  return samples.sort((a, b) => a.end - b.end);
}
