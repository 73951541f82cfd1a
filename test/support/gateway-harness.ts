import { request, type Dispatcher } from 'undici';
import { Gateway, parseGatewayConfig, type GatewayConfigInput, type WriteGuard } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import type { AccessLogSink } from '../../gateway/observability/access-log.js';

export const ADMIN_TOKEN = 'test-admin-token';

const TEST_ENGINE = ((e) => (e === 'raw' || e === 'node' ? e : undefined))(process.env.NW_TEST_ENGINE);

type AppInput = GatewayConfigInput['apps'][string];

export interface Harness {
  readonly gw: Gateway;
  readonly url: string;
  readonly adminUrl: string;
  readonly n1: EchoUpstream[];
  readonly n2: EchoUpstream[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Overrides for the app "shop" (hosts shop.test); servers are filled in. */
  app?: Partial<Omit<AppInput, 'n1' | 'n2'>> & { n1?: Partial<AppInput['n1']>; n2?: Partial<AppInput['n2']> };
  /** Top-level config overrides. */
  config?: Partial<GatewayConfigInput>;
  n1Servers?: number;
  n2Servers?: number;
  /** Upstreams to use instead of starting echo servers. */
  n1Urls?: string[];
  n2Urls?: string[];
  /** The gateway's write guard (what a fleet member's lease plugs in). */
  writeGuard?: WriteGuard;
  /** The gateway's logger (default: silent). */
  logger?: Logger;
  /** Where access log lines go (with `config.log.access`; default: stdout). */
  accessLogSink?: AccessLogSink;
}

/** Starts echo upstreams for N1 and N2 and a gateway in front of them, all on port 0. */
export async function startGatewayHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const n1: EchoUpstream[] = [];
  const n2: EchoUpstream[] = [];
  const s1 = new Map<string, string>();
  const s2 = new Map<string, string>();
  if (!opts.n1Urls) for (let i = 0; i < (opts.n1Servers ?? 1); i++) n1.push(await startEchoUpstream(`n1-${i}`, '127.0.0.1', 0, s1));
  if (!opts.n2Urls) for (let i = 0; i < (opts.n2Servers ?? 1); i++) n2.push(await startEchoUpstream(`n2-${i}`, '127.0.0.1', 0, s2));
  const n1Urls = opts.n1Urls ?? n1.map((u) => u.url);
  const n2Urls = opts.n2Urls ?? n2.map((u) => u.url);
  const raw: GatewayConfigInput = {
    name: 'test-gw',
    listeners: [{ host: '127.0.0.1', port: 0 }],
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    // NW_TEST_ENGINE=raw|node runs a suite against that engine (a test may still choose its own).
    ...(TEST_ENGINE !== undefined ? { engine: TEST_ENGINE } : {}),
    ...opts.config,
    apps: {
      shop: {
        hosts: ['shop.test'],
        ...opts.app,
        n1: { servers: n1Urls.map((url) => ({ url })), ...opts.app?.n1 },
        n2: { servers: n2Urls.map((url) => ({ url })), publicOrigin: 'https://shop-n2.example.com', ...opts.app?.n2 },
      },
    },
  };
  const config = parseGatewayConfig(raw, 'test-config');
  const gw = await Gateway.start({
    config,
    adminToken: ADMIN_TOKEN,
    logger: opts.logger ?? createLogger('silent'),
    ...(opts.writeGuard ? { writeGuard: opts.writeGuard } : {}),
    ...(opts.accessLogSink ? { accessLogSink: opts.accessLogSink } : {}),
  });
  return {
    gw,
    url: gw.listeners[0]!.url,
    adminUrl: gw.adminAddress!.url,
    n1,
    n2,
    async close() {
      await gw.close();
      await Promise.all([...n1, ...n2].map((u) => u.close()));
    },
  };
}

export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request through undici with a Host header; returns the buffered reply. */
export async function call(
  base: string,
  path: string,
  opts: { method?: Dispatcher.HttpMethod; host?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<SimpleResponse> {
  const res = await request(base + path, {
    method: opts.method ?? 'GET',
    headers: { host: opts.host ?? 'shop.test', ...opts.headers },
    body: opts.body ?? null,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/** PUTs a state for one app through the admin API (with the token). */
export async function putState(h: Harness, app: string, state: unknown, token: string | null = ADMIN_TOKEN): Promise<SimpleResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await request(`${h.adminUrl}/state/${app}`, {
    method: 'PUT',
    headers,
    body: typeof state === 'string' ? state : JSON.stringify(state),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}
