// Is a process we started still there? Checked through /proc, by PID plus something
// only our process has (its command line), so a reused PID is never mistaken for it.
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';

export function processAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function cmdlineIncludes(pid: number, needle: string): boolean {
  if (!pid) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(needle);
  } catch {
    return false;
  }
}

/** PIDs whose command line has `arg` as one of its arguments (to find a process berth started). */
export function pidsWithArg(arg: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (cmdlineIncludes(Number(name), arg)) out.push(Number(name));
  }
  return out;
}

/** `pid` and every process descended from it, parents before children (one /proc scan). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name may hold spaces and parentheses: the fields follow its last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Is signal `signo` blocked in process `pid` (its SigBlk mask in /proc/<pid>/status)? */
export function signalBlocked(pid: number, signo: number): boolean {
  try {
    const m = /^SigBlk:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return !!m && ((BigInt(`0x${m[1]}`) >> BigInt(signo - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** Does process `pid` hold an open file descriptor on the file `path` now is (same device and inode)? */
export function holdsFile(pid: number, path: string): boolean {
  let want;
  try {
    want = lstatSync(path);
  } catch {
    return false;
  }
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const s = statSync(`/proc/${pid}/fd/${fd}`);
        if (s.ino === want.ino && s.dev === want.dev) return true;
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* process gone */
  }
  return false;
}
