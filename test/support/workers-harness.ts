import { parseGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import { startWorkersGateway, type WorkersGateway, type WorkersGatewayOptions } from '../../gateway/workers/start-workers.js';
import { createLogger } from '../../platform/logger.js';
import { ADMIN_TOKEN } from './gateway-harness.js';

const TEST_ENGINE = ((e) => (e === 'raw' || e === 'node' ? e : undefined))(process.env.NW_TEST_ENGINE);

/** One JSON access-log line of a worker (the fields a test reads). */
export interface WorkerAccessLine {
  readonly worker: number;
  readonly pid: number;
  readonly path: string;
  readonly method: string;
  readonly status: number;
  readonly deployment: string;
}

export interface WorkersHarness {
  readonly node: WorkersGateway;
  readonly url: string;
  readonly adminUrl: string;
  /** Everything the workers wrote so far. */
  output(): string;
  /** The workers' access-log lines so far. */
  accessLines(): WorkerAccessLine[];
  close(): Promise<void>;
}

/**
 * A multi-worker gateway started in this process (this process is its primary; the workers are
 * child processes), with an admin listener and the access log on, the workers' output captured.
 * `config` is a whole gateway config (listeners on port 0); `workers` defaults to 2.
 */
export async function startWorkersHarness(
  config: GatewayConfigInput,
  opts: Omit<WorkersGatewayOptions, 'workerOutput'> & { workers?: number } = {},
): Promise<WorkersHarness> {
  let out = '';
  const parsed = parseGatewayConfig({
    admin: { host: '127.0.0.1', port: 0 },
    // NW_TEST_ENGINE=raw|node runs a suite against that engine (a test may still choose its own).
    ...(TEST_ENGINE !== undefined ? { engine: TEST_ENGINE } : {}),
    ...config,
    log: { level: 'warn', access: true, ...config.log },
    workers: opts.workers ?? 2,
  });
  const node = await startWorkersGateway(parsed, opts.workers ?? 2, {
    logger: createLogger('silent'),
    adminToken: ADMIN_TOKEN,
    ...opts,
    workerOutput: (chunk) => {
      out += chunk;
    },
  });
  return {
    node,
    url: node.gateway.listeners[0]!.url,
    adminUrl: node.gateway.adminAddress!.url,
    output: () => out,
    accessLines: () =>
      out
        .split('\n')
        .filter((l) => l.includes('"event":"gateway.access"'))
        .map((l) => JSON.parse(l) as WorkerAccessLine),
    close: () => node.close(),
  };
}
