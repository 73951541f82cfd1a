import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ChaosError } from '../chaos-errors.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const WithPidFile = { pidFile: z.string() };

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
  cassandra: z
    .object({ n1: z.object({ contactPoint: z.string(), ...WithPidFile }), n2: z.object({ contactPoint: z.string(), ...WithPidFile }) })
    .optional(),
});

export type ServiceEndpoints = z.infer<typeof EndpointsSchema>;
export type ZooKeeperEndpoints = NonNullable<ServiceEndpoints['zookeeper']>;
export type ZooKeeperServer = ZooKeeperEndpoints['servers'][number];

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

/**
 * The services script that started a service, found from its pid file
 * (<checkout>/.services/run/<unit>.pid): restarting a shared service must go through the checkout
 * that owns it, not this one, or it would start a second copy here.
 */
export function owningServicesScript(pidFile: string): string {
  const root = path.resolve(path.dirname(pidFile), '..', '..');
  const script = path.join(root, 'scripts', 'services.sh');
  if (!existsSync(script)) throw new ChaosError('NW_CHAOS_SERVICE_MISSING', `no services script next to ${pidFile} (looked for ${script})`);
  return script;
}
