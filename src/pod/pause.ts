// The built-in pause process for pods whose containers share one PID namespace: PID 1
// of that namespace (berth-monitor's `pause` mode), so no pause image and no pull.
// Pods without PID sharing have no infra process at all.
import { existsSync, statSync } from 'node:fs';
import { spawnMonitor } from '../native/monitor-process.js';
import { processAlive } from '../util/procfs.js';

/** `userns`: the pod's pinned user namespace, which must own the PID namespace (monitor's pause()). */
export async function startPause(podDir: string, userns?: string, timeoutMs = 10_000): Promise<number> {
  // argv0 'berth-pause': what `ps` in the pod shows as PID 1, instead of a host path.
  return (await spawnMonitor(['pause', '--pod-dir', podDir, ...(userns ? ['--userns', userns] : [])], { what: `pause process of ${podDir}`, timeoutMs, argv0: 'berth-pause' })).pid;
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
  for (let i = 0; i < 500 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 10));
}
