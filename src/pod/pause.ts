// The built-in pause process for pods whose containers share one PID namespace: PID 1
// of that namespace (berth-monitor's `pause` mode), so no pause image and no pull.
// Pods without PID sharing have no infra process at all.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { internal } from '../errors.js';
import { monitorPath } from '../native/index.js';

export function startPause(podDir: string, timeoutMs = 10_000): Promise<number> {
  const child = spawn(monitorPath(), ['pause', '--pod-dir', podDir], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    // Whatever happens, berthd's event loop must not wait on this child.
    child.unref();
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      reject(internal('pause process did not report within 10 s'));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(internal(`cannot start the pause process: ${e.message}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (!buf.includes('\n')) return;
      clearTimeout(timer);
      child.stdout.destroy();
      try {
        const r = JSON.parse(buf.split('\n')[0]!) as { ok: boolean; pid?: number; error?: string };
        if (r.ok && r.pid) resolve(r.pid);
        else reject(internal(`pause process: ${r.error ?? 'failed'}`));
      } catch (e) {
        reject(internal(`pause process: bad report ${JSON.stringify(buf)}: ${(e as Error).message}`));
      }
    });
  });
}

/** Kills the pause process if `pid` still is the one whose PID namespace is pinned at `pin`. */
export async function stopPause(pid: number, pin: string): Promise<void> {
  const nsOf = `/proc/${pid}/ns/pid`;
  try {
    if (!existsSync(pin) || statSync(nsOf).ino !== statSync(pin).ino) return; // gone, or PID reused
  } catch {
    return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 500; i++) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return;
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
