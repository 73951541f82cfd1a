// What the replicate strategy's suites check a migration against: closed-loop writes through the
// gateways, and the rows one datacenter alone answers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type cassandra from 'cassandra-driver';
import { request } from 'undici';
import type { Fleet } from './fleet-harness.js';

export interface Ack {
  readonly key: string;
  readonly value: string;
  readonly status: number;
  readonly served: string;
  /** A failed write's answer (its start, ms after the writers started, and the start of its body): what a failure report names. */
  readonly failure?: string;
  /** A fault the test injected (dc2 paused, the link cut) was on at some time while the write ran. */
  readonly underFault: boolean;
}

export interface Writes {
  /** The writes answered 200 so far. */
  acked(): Ack[];
  /** The test turns a fault on (dc2 paused, the link cut) or off: writes running meanwhile are marked `underFault`. */
  fault(on: boolean): void;
  stop(): Promise<Ack[]>;
}

/** Closed-loop writers through the gateways, each write a key of its own: what every 2xx put. */
export function startWrites(fleet: Fleet, tag: string): Writes {
  const results: Ack[] = [];
  const started = performance.now();
  let stopping = false;
  let faultOn = false;
  let faultToggles = 0;
  const workers = fleet.members.map(async (m, w) => {
    for (let i = 0; !stopping; i++) {
      const key = `${tag}-w${w}-${i}`;
      const value = `v${i}-${randomBytes(3).toString('hex')}`;
      const at = `at ${Math.round(performance.now() - started)} ms`;
      const [faultAtStart, togglesAtStart] = [faultOn, faultToggles];
      const underFault = () => faultAtStart || faultOn || faultToggles !== togglesAtStart;
      try {
        const res = await request(`${m.gateway.listeners[0]!.url}/kv/${key}`, {
          method: 'PUT',
          headers: { host: 'shop.test' },
          body: value,
        });
        const served = String(res.headers['x-northwest-deployment']);
        if (res.statusCode === 200) {
          await res.body.dump();
          results.push({ key, value, status: res.statusCode, served, underFault: underFault() });
        } else {
          const failure = `${at}: ${(await res.body.text()).slice(0, 400)}`;
          results.push({ key, value, status: res.statusCode, served, failure, underFault: underFault() });
        }
      } catch (err) {
        results.push({ key, value, status: 0, served: 'none', failure: `${at}: ${String(err)}`, underFault: underFault() });
      }
    }
  });
  return {
    acked: () => results.filter((r) => r.status === 200),
    fault(on) {
      if (on === faultOn) return;
      faultOn = on;
      faultToggles += 1;
    },
    async stop() {
      stopping = true;
      await Promise.all(workers);
      return results;
    },
  };
}

/** Every row of the table as one datacenter answers (the client's local one, LOCAL_ONE). */
export async function rowsAt(client: cassandra.Client, table: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let pageState: string | undefined;
  do {
    const rs = await client.execute(`SELECT k, v FROM ${table}`, [], { fetchSize: 5000, ...(pageState ? { pageState } : {}) });
    for (const r of rs.rows) out.set(r.get('k') as string, r.get('v') as string);
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return out;
}

/**
 * A failure the host's speed alone can cause: a write at EACH_QUORUM (the window) that dc2 did not
 * acknowledge within the suites' cluster's write timeout (2 s), on a host whose two cores also run
 * four Cassandra nodes. N1 answers it 500 (its outcome unknown); its data layer counts it, and the
 * fence drains instead of trusting the window (the test of an injected window failure checks that).
 */
export const WINDOW_WRITE_TIMEOUT =
  /"code":"NW_SYNC_WRITE_FAILED","message":"[^"]*Server timeout during write query at consistency EACH_QUORUM/;

/** A window write timeout outside any fault the test injected: the host's speed, not the fault. */
export const isHostSpeedFailure = (r: Ack): boolean => r.status === 500 && !r.underFault && WINDOW_WRITE_TIMEOUT.test(r.failure ?? '');

/**
 * Every write the clients sent was acknowledged, but for window write timeouts outside any fault
 * the test injected ({@link isHostSpeedFailure}). While a fault is on, none may fail: the lag gate
 * keeps the window shut.
 */
export function assertNoWriteFailed(all: readonly Ack[]): void {
  assert.deepEqual(
    all
      .filter((r) => r.status !== 200 && !isHostSpeedFailure(r))
      .map((r) => `${r.key} ${r.status} (${r.served}${r.underFault ? ', under the fault' : ''}) ${r.failure ?? ''}`),
    [],
    'no write failed',
  );
}

/** The keys of `acked` whose value is not in `rows`. */
export function missingAt(rows: Map<string, string>, acked: readonly { key: string; value: string }[]): string[] {
  return acked.filter((a) => rows.get(a.key) !== a.value).map((a) => a.key);
}
