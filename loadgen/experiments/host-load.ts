import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startCpuMeter } from '../bench/cpu-accounting.js';

/** Every pidFile value anywhere in a JSON document (the services' endpoints files list them). */
function pidFilesIn(doc: unknown): string[] {
  if (Array.isArray(doc)) return doc.flatMap(pidFilesIn);
  if (doc && typeof doc === 'object')
    return Object.entries(doc).flatMap(([k, v]) => (k === 'pidFile' && typeof v === 'string' ? [v] : pidFilesIn(v)));
  return [];
}

/** Pids of the services an experiment uses: .services/endpoints.json and the two-datacenter cluster's, from `dir`. */
export function servicePids(dir = process.cwd()): number[] {
  const files = [path.join(dir, '.services', 'endpoints.json'), path.join(dir, '.services', 'cassandra-dc', 'endpoints.json')];
  return files
    .filter((f) => existsSync(f))
    .flatMap((f) => {
      try {
        return pidFilesIn(JSON.parse(readFileSync(f, 'utf8')));
      } catch {
        return [];
      }
    })
    .flatMap((pf) => {
      try {
        const pid = Number(readFileSync(pf, 'utf8').trim());
        return Number.isInteger(pid) && pid > 0 ? [pid] : [];
      } catch {
        return [];
      }
    });
}

/**
 * CPU the rest of the host used while an experiment ran (other engineers' benchmarks on the shared
 * cores): the machine's busy time minus this process's and the services' it uses. The services
 * also serve others, so the figure is a lower bound of their load.
 */
export function startHostLoadMeter(): { stop(): number | undefined } {
  const meter = startCpuMeter(process.pid, servicePids());
  return { stop: () => meter.stop(0).otherCores };
}
