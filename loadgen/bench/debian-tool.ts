/**
 * A command-line tool the bench runs (nginx, wrk): found on PATH or in the
 * given directories, else installed from Debian's package with apt-get.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Path of `binary` on PATH or in one of `extraDirs` (searched after PATH), if there is one. */
export function findTool(binary: string, extraDirs: readonly string[] = []): string | undefined {
  return [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]
    .filter((d) => d.length > 0)
    .map((d) => join(d, binary))
    .find((p) => existsSync(p));
}

/**
 * Finds `binary`, installing Debian's `pkg` when it is missing: `apt-get install -y`, and if that
 * fails (a stale package list, as on a fresh container) `apt-get update` once and again.
 */
export function ensureDebianTool(binary: string, pkg: string, log: (line: string) => void, extraDirs: readonly string[] = []): string {
  const found = findTool(binary, extraDirs);
  if (found) return found;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', pkg], { stdio: ['ignore', 2, 2], env }).status === 0;
  log(`${binary} not found: apt-get install -y ${pkg}`);
  if (!install()) {
    log('apt-get install failed: apt-get update, then retry');
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 2, 2], env });
    if (!install()) throw new Error(`could not install ${pkg} with apt-get`);
  }
  const bin = findTool(binary, extraDirs);
  if (!bin)
    throw new Error(
      `${pkg} was installed but no ${binary} binary is on PATH${extraDirs.length > 0 ? ` or in ${extraDirs.join(', ')}` : ''}`,
    );
  return bin;
}
