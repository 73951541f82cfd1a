import type { Sample } from '../load-model.js';
import { runClosedLoop, type UnfinishedRequest } from '../load/closed-loop.js';
import { runFixedRate } from '../load/fixed-rate.js';
import type { Progress } from '../load/progress.js';
import type { RequestFor, Workload } from '../load/workload.js';

/** What a switchover measurement needs of one gateway's load run, closed or open loop. */
export interface GatewayLoad {
  readonly samples: readonly Sample[];
  readonly unfinished: readonly UnfinishedRequest[];
  /** performance.now() when this run started: its sample times are relative to it. */
  readonly origin: number;
}

export interface GatewayLoadOptions {
  readonly urls: readonly string[];
  /** Host header sent to every gateway (selects the app). */
  readonly host: string;
  /** Connections per gateway (closed loop), or the most the open-loop client opens per gateway. */
  readonly connectionsPerGateway: number;
  /** Open-loop load at this many requests per second per gateway (latency from due time) instead of closed loop. */
  readonly ratePerGateway?: number;
  /** Longest the load runs; `signal` ends it earlier. */
  readonly maxDurationS: number;
  readonly signal: AbortSignal;
  /** The operations sent to gateway i (a seed and run id of its own). */
  readonly workload: (gatewayIndex: number) => Workload;
  /** The request each operation becomes; default the reference app's. */
  readonly request?: RequestFor;
  /** Per-request timeout, seconds (the load generators' default when absent). */
  readonly timeoutS?: number;
  readonly progress?: Progress;
}

/** Starts the same load through every gateway at once; each promise settles when its run stopped. */
export function startGatewayLoads(o: GatewayLoadOptions): Array<Promise<GatewayLoad>> {
  return o.urls.map((url, i) => {
    const common = {
      target: url,
      host: o.host,
      connections: o.connectionsPerGateway,
      durationS: o.maxDurationS,
      signal: o.signal,
      workload: o.workload(i),
      ...(o.request ? { request: o.request } : {}),
      ...(o.timeoutS === undefined ? {} : { timeoutS: o.timeoutS }),
      ...(o.progress ? { onSample: o.progress.onSample } : {}),
    };
    return o.ratePerGateway === undefined ? runClosedLoop(common) : runFixedRate({ ...common, rate: o.ratePerGateway });
  });
}
