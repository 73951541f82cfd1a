import { Pool } from 'undici';

/** Requests per gateway: enough for V8 to optimise the request path of a fresh process. */
export const WARMUP_REQUESTS = 1500;

/**
 * Warms a gateway (and the app behind it) as a long-running one would be:
 * PUT / GET / DELETE of a key of its own (`nw-gateway-warmup-<name>`), which
 * no workload uses, over a few keep-alive connections. Ends with the key
 * deleted. Throws if a request fails (the gateway is not serving).
 */
export async function warmGateway(url: string, host: string, name: string, requests = WARMUP_REQUESTS): Promise<void> {
  const pool = new Pool(url, { connections: 4, pipelining: 1 });
  const path = `/kv/nw-gateway-warmup-${encodeURIComponent(name)}`;
  const one = async (i: number): Promise<void> => {
    const method = i % 3 === 0 ? 'PUT' : 'GET';
    const res = await pool.request({ path, method, headers: { host }, body: method === 'PUT' ? `warm-${i}` : null });
    await res.body.dump();
    if (res.statusCode >= 500) throw new Error(`${name}: warm-up ${method} ${path} gave ${res.statusCode}`);
  };
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < requests) await one(next++);
      }),
    );
    const del = await pool.request({ path, method: 'DELETE', headers: { host } });
    await del.body.dump();
  } finally {
    await pool.close();
  }
}
