/**
 * Target gateway-compiled: gateway-process.ts (raw engine) bundled by esbuild
 * (which tsx already brings along) and run by plain node, as the product runs
 * (`npm run build`, the bins): what the issue-13 goals are about. The other
 * gateway targets run under tsx, which costs. tsx compiles with keepNames, so every function the gateway
 * creates per request also gets a `__name(fn, ...)` call (Object.defineProperty);
 * the bundle is built without it. Our code is bundled, packages stay
 * external (resolved from the repo's node_modules).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');

interface EsbuildApi {
  build(options: Record<string, unknown>): Promise<{ errors: unknown[] }>;
}

/** Builds the gateway's bundle (once per bench run); returns its path. */
export function buildCompiledGateway(): Promise<string> {
  return buildCompiled('gateway-process');
}

/**
 * Builds one of the bench's processes as a bundle run by plain node: the gateway, the h2 floor or
 * the llhttp floor (so a floor and the gateway compare as the product runs, neither under tsx).
 */
export async function buildCompiled(entry: 'gateway-process' | 'h2-floor-proxy' | 'llhttp-floor-proxy'): Promise<string> {
  let esbuild: EsbuildApi;
  try {
    esbuild = (await import('esbuild')) as unknown as EsbuildApi;
  } catch (err) {
    throw new Error(`gateway-compiled needs esbuild (installed with tsx): ${(err as Error).message}`);
  }
  // Inside node_modules so the bundle's bare imports (undici, zod, ...) resolve from the repo.
  const outfile = join(REPO, 'node_modules', '.cache', 'northwest-bench', `${entry}.mjs`);
  await esbuild.build({
    entryPoints: [join(HERE, `${entry}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    keepNames: false,
    sourcemap: false,
    logLevel: 'error',
  });
  return outfile;
}
