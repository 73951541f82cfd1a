import { request, type Dispatcher } from 'undici';
import { createLogger } from '../../platform/logger.js';
import { parseControlPlaneConfig } from '../../controlplane/config.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../../controlplane/control-plane-process.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import { startFleet, type Fleet } from './fleet-harness.js';

export const CP_TOKEN = 'test-control-token';

/** A fleet of gateways, a control plane and its admin API, all on one fresh embedded store. */
export interface ControlHarness {
  readonly store: EmbeddedStore;
  readonly fleet: Fleet;
  readonly proc: ControlPlaneProcess;
  /** Base URL of the admin API. */
  readonly url: string;
  /** Sync hooks plans may name; tests add to it. */
  readonly hooks: Map<string, SyncHook>;
  close(): Promise<void>;
}

export interface ControlHarnessOptions {
  readonly size?: number;
  readonly apps?: readonly string[];
  /** Admin token; null starts the admin API with none configured. */
  readonly token?: string | null;
  /** Give the gateways admin listeners (their /metrics then feed the dashboard and the analysis gates). */
  readonly gatewayAdmin?: boolean;
  /** App servers the gateways send to instead of the fleet's echo apps. */
  readonly upstreams?: { readonly n1: string; readonly n2: string };
}

/** Starts `size` gateways (default 3) and a control plane with its admin API on port 0. */
export async function startControlHarness(opts: ControlHarnessOptions = {}): Promise<ControlHarness> {
  const store = new EmbeddedStore();
  const fleet = await startFleet({
    size: opts.size ?? 3,
    coordinator: () => new EmbeddedCoordinator(store),
    apps: opts.apps ?? ['shop', 'cart'],
    ...(opts.gatewayAdmin ? { admin: true } : {}),
    ...(opts.upstreams ? { upstreams: opts.upstreams } : {}),
  });
  const hooks = new Map<string, SyncHook>();
  const config = parseControlPlaneConfig({
    id: 'cp-test',
    coordinator: { kind: 'embedded' },
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  });
  const token = opts.token === undefined ? CP_TOKEN : opts.token;
  const proc = await startControlPlaneProcess(config, {
    coordinator: new EmbeddedCoordinator(store),
    syncHooks: hooks,
    env: token === null ? {} : { NORTHWEST_ADMIN_TOKEN: token },
    logger: createLogger('silent'),
  });
  return {
    store,
    fleet,
    proc,
    url: proc.adminAddress.url,
    hooks,
    async close() {
      await proc.stop();
      await fleet.close();
    },
  };
}

/** A sync hook that blocks until released (or until the runner stops it). */
export interface Gate {
  readonly hook: SyncHook;
  /** Resolves once the hook has been entered. */
  readonly entered: Promise<void>;
  release(): void;
}

export function gate(): Gate {
  let release!: () => void;
  let enter!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const entered = new Promise<void>((r) => (enter = r));
  return {
    entered,
    release,
    hook: async (ctx) => {
      enter();
      await Promise.race([released, new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))]);
      return {};
    },
  };
}

/** One admin API reply with its JSON body (or text, if it is not JSON). */
export interface AdminReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: unknown;
}

export interface AdminCallOptions {
  /** A value to send as JSON, or a string to send as is. */
  readonly body?: unknown;
  /** Bearer token; null sends no Authorization header. Default CP_TOKEN. */
  readonly token?: string | null;
}

export async function adminCall(
  url: string,
  method: Dispatcher.HttpMethod,
  path: string,
  opts: AdminCallOptions = {},
): Promise<AdminReply> {
  const token = opts.token === undefined ? CP_TOKEN : opts.token;
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const res = await request(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, body: parsed };
}

/** The `error` of an admin API error reply. */
export function errorOf(reply: AdminReply): { code: string; message: string; details?: Record<string, unknown> } {
  const e = (reply.body as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined)?.error;
  if (!e) throw new Error(`expected an error body, got ${reply.status}: ${reply.text}`);
  return e;
}
