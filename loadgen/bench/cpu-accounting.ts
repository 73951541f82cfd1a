/**
 * CPU time of the bench's own processes and of the whole machine, from Linux
 * /proc. CPU time per request is far less disturbed by a noisy neighbour than
 * requests per second, and the machine-wide figure shows how noisy it was.
 * Everything returns undefined where /proc is not there.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc times; 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** utime + stime of one process (all its threads), ms. */
function ownCpuMs(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Fields after "(comm) ": state is field 3, utime 14, stime 15 (1-based).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_SECOND;
}

function childPids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((tid) =>
    (read(`/proc/${pid}/task/${tid}/children`) ?? '')
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number),
  );
}

/**
 * cutime + cstime of this process, ms: the CPU of its children that have exited and been
 * reaped (a wrk run), which no live process tree holds any more.
 */
export function reapedChildrenCpuMs(): number | undefined {
  const stat = read('/proc/self/stat');
  if (stat === undefined) return undefined;
  // cutime is field 16, cstime 17 (1-based), in the same ticks as utime and stime.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / TICKS_PER_SECOND;
}

/** CPU ms used so far by a process and all its live descendants (nginx workers, say). */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = ownCpuMs(pid);
  if (own === undefined) return undefined;
  return childPids(pid).reduce((sum, child) => sum + (processTreeCpuMs(child) ?? 0), own);
}

/**
 * Machine-wide CPU ms so far that processes used (user, nice, system) or a
 * hypervisor stole, summed over all cores. Interrupt and softirq time is left
 * out: the kernel books the loopback TCP work of the bench's own traffic
 * there, not to the processes that caused it.
 */
export function machineProcessCpuMs(): number | undefined {
  const line = read('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return undefined;
  // user nice system idle iowait irq softirq steal guest guest_nice (guest is already inside user).
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + steal) * 1000) / TICKS_PER_SECOND;
}

export interface CpuUse {
  /** CPU µs the target process tree spent per completed request. */
  readonly targetUsPerRequest: number | undefined;
  /** Cores kept busy, on average, by processes that are not part of the bench. */
  readonly otherCores: number | undefined;
}

/**
 * CPU ms the bench has used so far: the trees of `pids` (its live children), this process
 * itself (its own figure: its tree would count those children twice), and the children it has
 * reaped (a load generator it ran to completion, such as wrk).
 */
export function benchCpuMs(pids: readonly number[]): number | undefined {
  const reaped = reapedChildrenCpuMs();
  if (reaped === undefined) return undefined;
  const self = process.cpuUsage();
  return pids.filter((p) => p !== process.pid).reduce((s, p) => s + (processTreeCpuMs(p) ?? 0), reaped + (self.user + self.system) / 1000);
}

/**
 * Measures one run: `targetPid` is the process tree under test, `benchPids`
 * every process of the bench (this one and the children it reaps meanwhile are
 * added); the rest of the machine's busy time is "other".
 */
export function startCpuMeter(targetPid: number, benchPids: readonly number[]): { stop(completed: number): CpuUse } {
  const pids = [...new Set(benchPids)].filter((p) => p !== process.pid);
  const t0 = processTreeCpuMs(targetPid);
  const ours0 = benchCpuMs(pids);
  const m0 = machineProcessCpuMs();
  const wall0 = performance.now();
  return {
    stop(completed: number): CpuUse {
      const t1 = processTreeCpuMs(targetPid);
      const ours1 = benchCpuMs(pids);
      const m1 = machineProcessCpuMs();
      const wallMs = performance.now() - wall0;
      const targetUsPerRequest =
        t0 !== undefined && t1 !== undefined && completed > 0 ? Math.round(((t1 - t0) * 10_000) / completed) / 10 : undefined;
      let otherCores: number | undefined;
      if (m0 !== undefined && m1 !== undefined && ours0 !== undefined && ours1 !== undefined && wallMs > 0) {
        otherCores = Math.max(0, Math.round(((m1 - m0 - (ours1 - ours0)) / wallMs) * 100) / 100);
      }
      return { targetUsPerRequest, otherCores };
    },
  };
}
