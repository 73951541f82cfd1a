// App servers whose writes are cache writes, for migrations of a Redis cache: N1's goes through the data
// layer (RedisCacheLayer, following the app's data mode as a fleet member), N2's writes its own Redis.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { createCacheClient } from '../../datasync/cache/cache-config.js';
import { DataLayerMember } from '../../datasync/layer/data-layer-member.js';
import { RedisCacheLayer } from '../../datasync/layer/redis-cache-layer.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';

export interface CacheApp {
  readonly url: string;
  /** Writes the app answered with a 5xx, with the error (what a client or a mirror saw fail). */
  readonly failures: Array<{ key: string; error: string }>;
  close(): Promise<void>;
}

/** PUT /kv/<key> stores the body with `set`; GET /kv/<key> reads it (404 when missing). */
async function serve(
  set: (key: string, value: string) => Promise<void>,
  get: (key: string) => Promise<string | undefined>,
  onClose: () => Promise<void>,
): Promise<CacheApp> {
  const failures: Array<{ key: string; error: string }> = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const key = decodeURIComponent((req.url ?? '').replace(/^\/kv\//, ''));
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      if (req.method === 'PUT') {
        await set(key, Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end('ok');
        return;
      }
      const value = await get(key);
      res.writeHead(value === undefined ? 404 : 200).end(value ?? '');
    } catch (err) {
      failures.push({ key, error: (err as Error).message });
      res.writeHead(500).end((err as Error).message);
    }
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    failures,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await onClose();
    },
  };
}

const TIMEOUTS = { connectTimeoutMs: 2000, commandTimeoutMs: 2000 };

/**
 * N1's app server: its cache layer joins the fleet as a data-layer member (so barriers wait for
 * it and it applies the app's data mode, `follow` included), and every write passes its write guard.
 */
export async function startN1CacheApp(opts: {
  readonly redis: { readonly host: string; readonly port: number };
  readonly coordinator: Coordinator;
  readonly app: string;
}): Promise<CacheApp & { readonly layer: RedisCacheLayer; readonly member: DataLayerMember }> {
  const client: Redis = createCacheClient({ host: opts.redis.host, port: opts.redis.port, db: 0, keyPrefix: '' }, TIMEOUTS);
  await client.connect();
  const layer = new RedisCacheLayer({ local: client });
  const member = new DataLayerMember({
    coordinator: opts.coordinator,
    memberId: `datalayer-n1-${opts.app}`,
    apps: { [opts.app]: [layer] },
  });
  await member.start();
  const guard = member.writeGuard(opts.app);
  const app = await serve(
    async (key, value) => {
      const refused = guard();
      if (refused) throw refused;
      await layer.set(key, value);
    },
    (key) => layer.get(key),
    async () => {
      await member.stop();
      await opts.coordinator.close();
      client.disconnect();
    },
  );
  return { ...app, layer, member };
}

/** N2's app server: its own Redis, no migration awareness (N2's app servers are not members). */
export async function startN2CacheApp(opts: { readonly redis: { readonly host: string; readonly port: number } }): Promise<CacheApp> {
  const client: Redis = createCacheClient({ host: opts.redis.host, port: opts.redis.port, db: 0, keyPrefix: '' }, TIMEOUTS);
  await client.connect();
  return serve(
    async (key, value) => void (await client.set(key, value)),
    async (key) => (await client.get(key)) ?? undefined,
    async () => client.disconnect(),
  );
}
