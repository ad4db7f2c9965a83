// Spawning berth-monitor (either mode) detached — its own session, so it outlives berthd —
// and reading its one-line JSON report: {"ok":true,"pid":N} or {"ok":false,"error":"..."}.
import { type BerthError, internal } from '../errors.js';
import { monitorPath, native } from './index.js';

export interface MonitorReport {
  /** The PID the monitor reports: the container's init, or the pause process. */
  pid: number;
  /** The monitor process itself. */
  monitorPid: number;
}

export async function spawnMonitor(args: string[], o: { what: string; timeoutMs: number; stderrFd?: number; argv0?: string; /** Turns a reported failure into an error (default INTERNAL). */ failure?: (message: string) => BerthError }): Promise<MonitorReport> {
  // Spawned natively (posix_spawn, no fork of berthd's memory) and reaped natively when it
  // exits; it calls setsid itself, so it leads its own process group and session.
  let started: { pid: number; line?: string | null; timedOut: boolean };
  try {
    started = await native.spawnDetached(monitorPath(), args, o.argv0, o.stderrFd, o.timeoutMs);
  } catch (e) {
    throw internal(`${o.what}: cannot start berth-monitor: ${(e as Error).message}`);
  }
  const killGroup = () => {
    try {
      process.kill(-started.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  if (started.timedOut) {
    killGroup();
    throw internal(`${o.what}: berth-monitor did not report within ${o.timeoutMs} ms`);
  }
  if (started.line == null) throw internal(`${o.what}: berth-monitor exited before reporting`);
  let r: { ok: boolean; pid?: number; error?: string };
  try {
    r = JSON.parse(started.line) as typeof r;
  } catch (e) {
    killGroup();
    throw internal(`${o.what}: bad report ${JSON.stringify(started.line)}: ${(e as Error).message}`);
  }
  if (r.ok && r.pid) return { pid: r.pid, monitorPid: started.pid };
  throw (o.failure ?? internal)(`${o.what}: ${r.error ?? 'failed'}`);
}
