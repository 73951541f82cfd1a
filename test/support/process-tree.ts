// A process's descendants from /proc, to check what a killed process leaves behind: once it is
// gone its children are re-parented, so they are read before the kill and followed by pid and
// start time (a pid can be reused).
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  /** Clock ticks after boot (field 22 of /proc/PID/stat): with the pid, names the process. */
  readonly startTime: string;
  readonly state: string;
  readonly cmdline: string;
}

function readEntry(pid: number): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) is in parentheses and may hold spaces: the fields after its ')' start with state (field 3).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(f[1]), startTime: f[19] ?? '', state: f[0] ?? '', cmdline };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `pid` (children, their children, ...). */
export function descendantsOf(pid: number): ProcessEntry[] {
  const all = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readEntry(Number(d)))
    .filter((e): e is ProcessEntry => e !== undefined && e.state !== 'Z');
  const out: ProcessEntry[] = [];
  const parents = [pid];
  while (parents.length > 0) {
    const parent = parents.shift()!;
    for (const e of all.filter((x) => x.ppid === parent)) {
      out.push(e);
      parents.push(e.pid);
    }
  }
  return out;
}

/** The same process (pid and start time) still runs (a zombie does not). */
export function stillRunning(p: Pick<ProcessEntry, 'pid' | 'startTime'>): boolean {
  const now = readEntry(p.pid);
  return now !== undefined && now.startTime === p.startTime && now.state !== 'Z';
}
