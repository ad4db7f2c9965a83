// Network counters of a pod: /proc/<pid>/net/dev of a process that lives in the pod's
// network namespace (berthd never enters a namespace itself). The process is checked to
// be in the pinned namespace (same nsfs inode), so a reused PID is never read by mistake.
import { promises as fs } from 'node:fs';

export interface InterfaceCounters {
  name: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** Parses /proc/net/dev (two header lines, then `name: 16 counters`). */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({
      name: line.slice(0, colon).trim(),
      rxBytes: f[0]!, rxPackets: f[1]!, rxErrors: f[2]!, rxDropped: f[3]!,
      txBytes: f[8]!, txPackets: f[9]!, txErrors: f[10]!, txDropped: f[11]!,
    });
  }
  return out;
}

/**
 * The interfaces of the namespace pinned at `pin`, read through the first of `pids` that
 * is in it; undefined when none is (a pod with nothing running has no process to ask).
 */
export async function netnsCounters(pin: string, pids: number[]): Promise<InterfaceCounters[] | undefined> {
  let want;
  try {
    want = await fs.stat(pin);
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    if (!(pid > 0)) continue;
    try {
      const inPod = async () => {
        const ns = await fs.stat(`/proc/${pid}/ns/net`);
        return ns.ino === want.ino && ns.dev === want.dev;
      };
      if (!(await inPod())) continue;
      const text = await fs.readFile(`/proc/${pid}/net/dev`, 'utf8');
      // Checked again after the read: the process may have exited and its PID been reused.
      if (!(await inPod())) continue;
      return parseNetDev(text).filter((i) => i.name !== 'lo');
    } catch {
      /* gone meanwhile: try the next */
    }
  }
  return undefined;
}
