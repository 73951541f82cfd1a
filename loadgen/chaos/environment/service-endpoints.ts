import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ChaosError } from '../chaos-errors.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const WithPidFile = { pidFile: z.string() };

const CassandraNode = z.object({
  contactPoint: z.string(),
  port: z.number().int(),
  localDataCenter: z.string(),
  /** nodetool's port (the schema flush before a node may be killed). */
  jmxPort: z.number().int(),
  ...WithPidFile,
});

/** The part of .services/endpoints.json (written by scripts/services.sh) the campaign uses. */
const EndpointsSchema = z.object({
  zookeeper: z
    .object({
      connectString: z.string(),
      servers: z.array(z.object({ id: z.number().int(), host: z.string(), port: z.number().int(), ...WithPidFile })),
    })
    .optional(),
  toxiproxy: z.object({ apiUrl: z.string(), ...WithPidFile }).optional(),
  redis: z
    .object({
      n1: z.object({ host: z.string(), port: z.number().int(), ...WithPidFile }),
      n2: z.object({ host: z.string(), port: z.number().int(), ...WithPidFile }),
    })
    .optional(),
  cassandra: z.object({ n1: CassandraNode, n2: CassandraNode }).optional(),
});

export type ServiceEndpoints = z.infer<typeof EndpointsSchema>;
export type ZooKeeperEndpoints = NonNullable<ServiceEndpoints['zookeeper']>;
export type ZooKeeperServer = ZooKeeperEndpoints['servers'][number];
export type CassandraNodeEndpoint = z.infer<typeof CassandraNode>;

export function endpointsFile(): string {
  return process.env.NW_SERVICES_ENDPOINTS ?? path.join(REPO_ROOT, '.services', 'endpoints.json');
}

/** Reads the endpoints file; a missing file or service is NW_CHAOS_SERVICE_MISSING with the command that fixes it. */
export function loadEndpoints(file = endpointsFile()): ServiceEndpoints {
  if (!existsSync(file)) throw new ChaosError('NW_CHAOS_SERVICE_MISSING', `no ${file}: run \`npm run services -- up\` first`);
  const parsed = EndpointsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new ChaosError('NW_CHAOS_SERVICE_MISSING', `${file}: ${parsed.error.message}`);
  return parsed.data;
}

export function requireEndpoint<K extends keyof ServiceEndpoints>(e: ServiceEndpoints, name: K): NonNullable<ServiceEndpoints[K]> {
  const v = e[name];
  if (v === undefined) throw new ChaosError('NW_CHAOS_SERVICE_MISSING', `${name} is not up: run \`npm run services -- up ${name}\``);
  return v as NonNullable<ServiceEndpoints[K]>;
}

/** The checkout whose services script started the service of this pid file (<checkout>/.services/run/<unit>.pid). */
export function owningCheckout(pidFile: string): string {
  return path.resolve(path.dirname(pidFile), '..', '..');
}

/**
 * The services script that started a service, found from its pid file
 * (<checkout>/.services/run/<unit>.pid): restarting a shared service must go through the checkout
 * that owns it, not this one, or it would start a second copy here.
 */
export function owningServicesScript(pidFile: string): string {
  const script = path.join(owningCheckout(pidFile), 'scripts', 'services.sh');
  if (!existsSync(script)) throw new ChaosError('NW_CHAOS_SERVICE_MISSING', `no services script next to ${pidFile} (looked for ${script})`);
  return script;
}
