import { request } from 'undici';
import type { CommitEntry } from '../../reference-app/index.js';
import { type CampaignChild, spawnCampaignChild } from './child-process.js';

export type Side = 'n1' | 'n2';

/** N1 and N2: reference apps in processes of their own, with commit log, admin switch and WebSocket writes. */
export interface AppServers {
  readonly url: Readonly<Record<Side, string>>;
  /** The side's commit log for keys starting with `prefix`. */
  commits(side: Side, prefix: string): Promise<CommitEntry[]>;
  /** The side's store, keys starting with `prefix`. */
  snapshot(side: Side, prefix: string): Promise<Map<string, string>>;
  /** Copies entries into a side (missing keys only, or with overwrite every differing key); returns how many it wrote. */
  sync(side: Side, entries: ReadonlyArray<readonly [string, string]>, overwrite: boolean): Promise<number>;
  /** Every request to the side answers `status` until cleared with undefined. */
  setFault(side: Side, status: number | undefined): Promise<void>;
  /** The plan's sync section for these app servers' stores. */
  readonly planSync: { readonly mode: 'mirror' | 'none'; readonly hooks: readonly string[] };
  /** Readies the app servers for a round's apps (the Cassandra variant: their tables, processes that serve them). */
  useApps(apps: readonly string[]): Promise<void>;
  /** The fleet members the app servers run (N1's data layer in the Cassandra variant), for the leftovers check. */
  liveMembers(): string[];
  stop(): Promise<void>;
}

/** The in-memory app servers' sync: the stand-in hook of copy-hook.ts while writes are mirrored. */
const MEMORY_PLAN_SYNC = { mode: 'mirror', hooks: ['copy-n1-to-n2'] } as const;

async function call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<unknown> {
  const res = await request(url, {
    method,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}

/**
 * The admin client of a pair of instrumented in-memory reference apps at these URLs (also used by
 * the control plane's copy hook): they serve any app, and run no fleet member.
 */
export function appServersAt(url: Readonly<Record<Side, string>>, stop: () => Promise<void> = async () => {}): AppServers {
  return {
    url,
    planSync: MEMORY_PLAN_SYNC,
    useApps: async () => {},
    liveMembers: () => [],
    async commits(side, prefix) {
      const out: CommitEntry[] = [];
      for (let after = 0; ; ) {
        const page = (await call('GET', `${url[side]}/_admin/commits?after=${after}&prefix=${encodeURIComponent(prefix)}`)) as {
          size: number;
          entries: CommitEntry[];
        };
        out.push(...page.entries);
        const last = page.entries.at(-1);
        if (!last || last.seq >= page.size) return out;
        after = last.seq;
      }
    },
    async snapshot(side, prefix) {
      const r = (await call('GET', `${url[side]}/_admin/snapshot?prefix=${encodeURIComponent(prefix)}`)) as {
        entries: Array<[string, string]>;
      };
      return new Map(r.entries);
    },
    async sync(side, entries, overwrite) {
      return ((await call('POST', `${url[side]}/_admin/sync`, { entries, overwrite })) as { copied: number }).copied;
    },
    async setFault(side, status) {
      if (status === undefined) await call('DELETE', `${url[side]}/_admin/fault`);
      else await call('PUT', `${url[side]}/_admin/fault`, { status });
    },
    stop,
  };
}

/** Starts N1 and N2 (reference-app-cli.ts with --commit-log --admin --web-socket). */
export async function startAppServers(): Promise<AppServers> {
  const children: CampaignChild[] = [];
  try {
    for (const side of ['n1', 'n2'] as const)
      children.push(
        await spawnCampaignChild({
          name: `app-${side}`,
          script: 'loadgen/reference-app/reference-app-cli.ts',
          args: ['--deployment', side, '--port', '0', '--commit-log', '--admin', '--web-socket'],
          readyPatterns: [/listening on (http:\/\/\S+)/],
        }),
      );
  } catch (err) {
    await Promise.all(children.map((c) => c.stop()));
    throw err;
  }
  const [n1, n2] = children as [CampaignChild, CampaignChild];
  return appServersAt({ n1: n1.ready[0]!, n2: n2.ready[0]! }, async () => {
    await Promise.all(children.map((c) => c.stop()));
  });
}
