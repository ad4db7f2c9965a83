// Spawning berth-monitor (either mode) detached — its own session, so it outlives berthd —
// and reading its one-line JSON report: {"ok":true,"pid":N} or {"ok":false,"error":"..."}.
import { spawn } from 'node:child_process';
import { type BerthError, internal } from '../errors.js';
import { monitorPath } from './index.js';

export interface MonitorReport {
  /** The PID the monitor reports: the container's init, or the pause process. */
  pid: number;
  /** The monitor process itself. */
  monitorPid: number;
}

export function spawnMonitor(args: string[], o: { what: string; timeoutMs: number; stderrFd?: number; argv0?: string; /** Turns a reported failure into an error (default INTERNAL). */ failure?: (message: string) => BerthError }): Promise<MonitorReport> {
  const child = spawn(monitorPath(), args, { detached: true, stdio: ['ignore', 'pipe', o.stderrFd ?? 'ignore'], ...(o.argv0 ? { argv0: o.argv0 } : {}) });
  // Whatever happens, berthd's event loop must not wait on this child.
  child.unref();
  const out = child.stdout!;
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const finish = (err: Error | undefined, value?: MonitorReport) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      out.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // it leads its own process group
      } catch {
        /* gone */
      }
      finish(internal(`${o.what}: berth-monitor did not report within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    child.on('error', (e) => finish(internal(`${o.what}: cannot start berth-monitor: ${e.message}`)));
    out.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const r = JSON.parse(buf.slice(0, nl)) as { ok: boolean; pid?: number; error?: string };
        if (r.ok && r.pid) finish(undefined, { pid: r.pid, monitorPid: child.pid! });
        else finish((o.failure ?? internal)(`${o.what}: ${r.error ?? 'failed'}`));
      } catch (e) {
        finish(internal(`${o.what}: bad report ${JSON.stringify(buf.slice(0, nl))}: ${(e as Error).message}`));
      }
    });
    // 'close' (not 'exit'): it comes only after stdout has been read to the end.
    child.on('close', (code) => finish(internal(`${o.what}: berth-monitor exited (${code}) before reporting`)));
  });
}
