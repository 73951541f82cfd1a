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
}

/** Closed-loop writers through the gateways, each write a key of its own: what every 2xx put. */
export function startWrites(fleet: Fleet, tag: string): { acked(): Ack[]; stop(): Promise<Ack[]> } {
  const results: Ack[] = [];
  let stopping = false;
  const workers = fleet.members.map(async (m, w) => {
    for (let i = 0; !stopping; i++) {
      const key = `${tag}-w${w}-${i}`;
      const value = `v${i}-${randomBytes(3).toString('hex')}`;
      try {
        const res = await request(`${m.gateway.listeners[0]!.url}/kv/${key}`, {
          method: 'PUT',
          headers: { host: 'shop.test' },
          body: value,
        });
        await res.body.dump();
        results.push({ key, value, status: res.statusCode, served: String(res.headers['x-northwest-deployment']) });
      } catch {
        results.push({ key, value, status: 0, served: 'none' });
      }
    }
  });
  return {
    acked: () => results.filter((r) => r.status === 200),
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

/** Every write the clients sent was acknowledged. */
export function assertNoWriteFailed(all: readonly Ack[]): void {
  assert.deepEqual(
    all.filter((r) => r.status !== 200).map((r) => `${r.key} ${r.status}`),
    [],
    'no write failed',
  );
}

/** The keys of `acked` whose value is not in `rows`. */
export function missingAt(rows: Map<string, string>, acked: readonly { key: string; value: string }[]): string[] {
  return acked.filter((a) => rows.get(a.key) !== a.value).map((a) => a.key);
}
