/**
 * wrk (the C load generator, Debian's `wrk`) as the saturation generator for plain-HTTP targets
 * (`--generator wrk`): one thread in its own process, as issue 13's nginx figure was measured, so
 * the generator does not take CPU from the bench process's event loop and the proxies keep
 * their core as they would behind a production client.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LoadResult } from './autocannon-run.js';
import type { Workload } from './bench-workloads.js';
import { ensureDebianTool } from './debian-tool.js';

const execFileAsync = promisify(execFile);

/** As autocannon's `timeout: 10` in the bench: wrk's own default (2 s) would count slower answers as timeouts. */
const REQUEST_TIMEOUT_S = 10;
/** How long past its duration a wrk run may take before it is killed (start-up, connection set-up, the report). */
const RUN_GRACE_MS = 30_000;
/** Output lines quoted when wrk's report cannot be read. */
const QUOTED_LINES = 12;

/** wrk found (or installed) for one bench run, with the Lua scripts it needs, written once. */
export interface WrkGenerator {
  readonly bin: string;
  /** "debian/4.1.0-3+b2", from `wrk -v`. */
  readonly version: string;
  /** The script that makes wrk send `w`; undefined when wrk's default request (a bare GET) is it. */
  scriptFor(w: Workload): string | undefined;
  /** Removes the scripts' temp dir. */
  remove(): void;
}

export interface WrkRunOptions {
  readonly baseUrl: string;
  readonly workload: Workload;
  readonly connections: number;
  /** Seconds; wrk takes whole seconds, so this is rounded up (the result carries the real duration). */
  readonly durationS: number;
  readonly wrk: WrkGenerator;
}

/** "debian/4.1.0-3+b2" from the first line of `wrk -v` ("wrk debian/4.1.0-3+b2 [epoll] Copyright ..."). */
export function parseWrkVersion(output: string): string {
  return /^wrk\s+(\S+)/.exec(output.trimStart())?.[1] ?? 'unknown';
}

/** `wrk -v` prints its version, then its usage, and exits 1: the exit status says nothing. */
export async function wrkVersion(bin: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(bin, ['-v'], { timeout: 10_000 });
    return parseWrkVersion(`${stdout}${stderr}`);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return parseWrkVersion(`${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The whole seconds wrk runs for `durationS` (its -d takes no fractions). */
export function wrkSeconds(durationS: number): number {
  return Math.max(1, Math.ceil(durationS));
}

/**
 * A Lua string literal of `s`'s UTF-8 bytes: printable ASCII as is, every other byte (and `"`
 * and `\`) as a three-digit decimal escape, which LuaJIT and Lua 5.x read the same way.
 */
export function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += plain ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** The Lua script for `w`: method, headers, and the body read as bytes from `bodyFile` (wrk adds Content-Length). */
export function renderWrkScript(w: Workload, bodyFile: string | undefined): string {
  const lines = [`-- proxy bench, workload ${w.name}`, `wrk.method = ${luaString(w.method)}`];
  for (const [name, value] of Object.entries(w.headers)) lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (bodyFile !== undefined) lines.push(`local f = assert(io.open(${luaString(bodyFile)}, "rb"))`, 'wrk.body = f:read("*a")', 'f:close()');
  return `${lines.join('\n')}\n`;
}

/** Finds wrk (installing Debian's package if missing) and makes the temp dir its scripts go to. */
export async function prepareWrk(log: (line: string) => void): Promise<WrkGenerator> {
  const bin = ensureDebianTool('wrk', 'wrk', log);
  return openWrk(bin, await wrkVersion(bin));
}

export function openWrk(bin: string, version: string): WrkGenerator {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const scripts = new Map<Workload, string | undefined>();
  return {
    bin,
    version,
    scriptFor(w) {
      if (scripts.has(w)) return scripts.get(w);
      let script: string | undefined;
      if (w.method !== 'GET' || Object.keys(w.headers).length > 0 || w.body !== undefined) {
        let bodyFile: string | undefined;
        if (w.body !== undefined) {
          bodyFile = join(dir, `${w.name}.body`);
          writeFileSync(bodyFile, w.body);
        }
        script = join(dir, `${w.name}.lua`);
        writeFileSync(script, renderWrkScript(w, bodyFile));
      }
      scripts.set(w, script);
      return script;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TIME_US: Readonly<Record<string, number>> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
const DURATION_S: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/** "76.00us", "9.71ms", "1.02s" (wrk switches unit at 0.85 of the next, so "0.90ms" occurs) -> µs. */
function timeUs(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)$/.exec(text ?? '');
  return m ? Number(m[1]) * (TIME_US[m[2] ?? ''] ?? NaN) : NaN;
}

export class WrkError extends Error {
  constructor(why: string, output: string) {
    const head = output.split('\n').slice(0, QUOTED_LINES).join('\n');
    super(`wrk: ${why}; its output began:\n${head || '(nothing)'}`);
    this.name = 'WrkError';
  }
}

/**
 * The LoadResult of one `wrk --latency` report. `errors` counts socket errors and timeouts
 * together, as autocannon's does (so the bench's failure count means the same for both);
 * `timeouts` alone as well. Latencies cover every response (wrk has no per-status histogram);
 * p999 is NaN (wrk's distribution stops at 99 %).
 */
export function parseWrkOutput(output: string): LoadResult {
  const done = /^\s*(\d+) requests in (\d+(?:\.\d+)?)(s|m|h),/m.exec(output);
  if (!done) throw new WrkError('no "N requests in T" line', output);
  const completed = Number(done[1]);
  const durationS = Number(done[2]) * (DURATION_S[done[3] ?? ''] ?? NaN);
  const socket = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/m.exec(output);
  const [connectErr, readErr, writeErr, timeouts] = socket ? socket.slice(1, 5).map(Number) : [0, 0, 0, 0];
  const non2xx = Number(/^\s*Non-2xx or 3xx responses: (\d+)/m.exec(output)?.[1] ?? 0);
  const latencyUs = completed === 0 ? emptyLatency() : latencyOf(output, completed);
  return {
    rps: durationS > 0 ? completed / durationS : 0,
    completed,
    errors: (connectErr ?? 0) + (readErr ?? 0) + (writeErr ?? 0) + (timeouts ?? 0),
    timeouts: timeouts ?? 0,
    non2xx,
    durationS,
    latencyUs,
  };
}

function emptyLatency(): LoadResult['latencyUs'] {
  return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
}

function latencyOf(output: string, completed: number): LoadResult['latencyUs'] {
  // "    Latency   349.58us    1.68ms  24.08ms   97.39%": avg, stdev, max, share within one stdev.
  const stats = /^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+%\s*$/m.exec(output);
  const percentile = (p: number): number => timeUs(new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, 'm').exec(output)?.[1]);
  const latency = {
    count: completed,
    mean: Math.round(timeUs(stats?.[1])),
    p50: Math.round(percentile(50)),
    p90: Math.round(percentile(90)),
    p99: Math.round(percentile(99)),
    p999: NaN,
    max: Math.round(timeUs(stats?.[3])),
  };
  const missing = Object.entries(latency).filter(([k, v]) => k !== 'p999' && Number.isNaN(v));
  if (missing.length > 0) throw new WrkError(`no latency ${missing.map(([k]) => k).join(', ')} (was --latency given?)`, output);
  return latency;
}

/** One `wrk -t1 -c<connections> -d<seconds>s --latency` run in its own process. */
export async function runWrk(o: WrkRunOptions): Promise<LoadResult> {
  const seconds = wrkSeconds(o.durationS);
  const script = o.wrk.scriptFor(o.workload);
  const args = [
    '-t1',
    `-c${o.connections}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    `${REQUEST_TIMEOUT_S}s`,
    ...(script === undefined ? [] : ['-s', script]),
    o.baseUrl + o.workload.path,
  ];
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(o.wrk.bin, args, { timeout: seconds * 1000 + RUN_GRACE_MS, killSignal: 'SIGKILL' }));
  } catch (err) {
    const e = err as { code?: unknown; signal?: unknown; stdout?: string; stderr?: string; message?: string };
    const why = e.signal ? `killed by ${String(e.signal)}` : `exited with ${String(e.code ?? e.message)}`;
    throw new WrkError(`${o.wrk.bin} ${args.join(' ')} ${why}`, `${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
  return parseWrkOutput(stdout);
}
