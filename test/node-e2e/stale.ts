// What an interrupted run leaves behind (a killed CI job, a machine stopped mid-run):
// empty pod cgroups under /kubepods, the run's own cgroup root and its work dir under
// /var/tmp. A later run removes them when no process is left in them; a tree with a
// process in it belongs to a live kubelet, and the run refuses to share the host with it.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { native } from '../../src/native/index.js';

/** The pids in a cgroup directory and every cgroup below it. */
function pidsUnder(dir: string): number {
  let n = 0;
  try {
    n += readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return n; // gone meanwhile
  }
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) n += pidsUnder(path.join(dir, e.name));
  return n;
}

/** Whether a cgroup path exists in some hierarchy and holds no process in any of them. */
export function cgroupBusy(cgroup: string): { exists: boolean; pids: number } {
  const dirs = native.cgroupExisting(cgroup);
  return { exists: dirs.length > 0, pids: dirs.reduce((n, d) => n + pidsUnder(d), 0) };
}

/**
 * Removes /kubepods and earlier runs' cgroup roots and work dirs when they hold no
 * process. Throws when /kubepods is in use. Returns what it removed.
 */
export function sweepStale(workParent: string, prefix: string): string[] {
  const removed: string[] = [];
  const kubepods = cgroupBusy('/kubepods');
  if (kubepods.pids > 0) throw new Error(`node-e2e: /kubepods holds ${kubepods.pids} processes: another kubelet (or node e2e run) uses this host; one at a time`);
  if (kubepods.exists) {
    native.cgroupRemove('/kubepods');
    removed.push('cgroup /kubepods');
  }
  for (const name of readdirSync(workParent).filter((n) => n.startsWith(prefix))) {
    const cg = cgroupBusy(`/${name}`);
    const dir = path.join(workParent, name);
    // A run makes its work dir a moment before its cgroup: a young dir may be starting.
    const young = !cg.exists && existsSync(dir) && Date.now() - statSync(dir).mtimeMs < 10 * 60_000;
    if (cg.pids > 0 || young) continue;
    if (cg.exists) {
      native.cgroupRemove(`/${name}`);
      removed.push(`cgroup /${name}`);
    }
    if (existsSync(dir)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}
