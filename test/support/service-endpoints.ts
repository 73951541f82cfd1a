// Where the local backing services started by `bash scripts/services.sh up` listen.
// The script writes .services/endpoints.json (fixed values, only for services that are up).
// Tests that need a service must fail, not skip, when it is missing: use requireService().
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ENDPOINTS_FILE = process.env.NW_SERVICES_ENDPOINTS ?? path.join(REPO_ROOT, '.services', 'endpoints.json');

const ZooKeeperServer = z.object({
  id: z.number().int(),
  host: z.string(),
  port: z.number().int(),
  pidFile: z.string(),
  dataDir: z.string(),
  logFile: z.string(),
});

const RedisInstance = z.object({
  host: z.string(),
  port: z.number().int(),
  pidFile: z.string(),
});

const CassandraCluster = z.object({
  contactPoint: z.string(),
  port: z.number().int(),
  localDataCenter: z.string(),
  clusterName: z.string(),
  jmxPort: z.number().int(),
  pidFile: z.string(),
});

const ServiceEndpointsSchema = z.object({
  zookeeper: z
    .object({
      connectString: z.string(),
      servers: z.array(ZooKeeperServer),
    })
    .optional(),
  redis: z.object({ n1: RedisInstance, n2: RedisInstance }).optional(),
  route53: z
    .object({
      endpoint: z.string(),
      region: z.string(),
      pidFile: z.string(),
    })
    .optional(),
  cassandra: z.object({ n1: CassandraCluster, n2: CassandraCluster }).optional(),
  toxiproxy: z.object({ apiUrl: z.string(), version: z.string(), pidFile: z.string() }).optional(),
});

export type ServiceEndpoints = z.infer<typeof ServiceEndpointsSchema>;
export type ServiceName = keyof ServiceEndpoints;
export type ZooKeeperEndpoints = NonNullable<ServiceEndpoints['zookeeper']>;
export type ZooKeeperServerEndpoint = z.infer<typeof ZooKeeperServer>;
export type RedisEndpoints = NonNullable<ServiceEndpoints['redis']>;
export type RedisEndpoint = z.infer<typeof RedisInstance>;
export type Route53Endpoint = NonNullable<ServiceEndpoints['route53']>;
export type CassandraEndpoints = NonNullable<ServiceEndpoints['cassandra']>;
export type CassandraEndpoint = z.infer<typeof CassandraCluster>;

/** Reads .services/endpoints.json; throws if `scripts/services.sh up` has not been run. */
export function loadServiceEndpoints(file: string = ENDPOINTS_FILE): ServiceEndpoints {
  if (!existsSync(file)) {
    throw new Error(
      `No service endpoints at ${file}: run \`bash scripts/services.sh up\` first ` +
        '(it installs and starts ZooKeeper, Redis, the Route 53 mock and Cassandra on loopback).',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot parse ${file} (${String(err)}): run \`bash scripts/services.sh up\` again.`);
  }
  const parsed = ServiceEndpointsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Unexpected content in ${file}: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** The endpoints of one service; throws if that service is not up. */
export function requireService<K extends ServiceName>(name: K, file: string = ENDPOINTS_FILE): NonNullable<ServiceEndpoints[K]> {
  const value = loadServiceEndpoints(file)[name];
  if (value === undefined) {
    throw new Error(`Service '${name}' is not up (not in ${file}): run \`bash scripts/services.sh up ${name}\` first.`);
  }
  return value as NonNullable<ServiceEndpoints[K]>;
}
