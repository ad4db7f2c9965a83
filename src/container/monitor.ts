// Spawning berth-monitor detached (its own session, so it outlives berthd) and reading
// its one-line report of how `<runtime> create` went.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { internal } from '../errors.js';
import { monitorPath } from '../native/index.js';

export interface MonitorArgs {
  runtime: string;
  runtimeRoot: string;
  id: string;
  bundle: string;
  logPath: string;
  exitFile: string;
  pidFile: string;
  runtimeLog: string;
  /** The monitor's own diagnostics go here. */
  monitorLog: string;
  timeoutMs: number;
}

export function startMonitor(a: MonitorArgs): Promise<{ pid: number; monitorPid: number }> {
  const errFd = openSync(a.monitorLog, 'a', 0o600);
  const args = ['run', '--runtime', a.runtime, '--root', a.runtimeRoot, '--id', a.id, '--bundle', a.bundle, '--log', a.logPath,
    '--exit-file', a.exitFile, '--pid-file', a.pidFile, '--runtime-log', a.runtimeLog];
  const child = spawn(monitorPath(), args, { detached: true, stdio: ['ignore', 'pipe', errFd] });
  closeSync(errFd);
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const finish = (err: Error | undefined, value?: { pid: number; monitorPid: number }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      finish(internal(`container ${a.id}: runtime create did not finish within ${a.timeoutMs} ms`));
    }, a.timeoutMs);
    child.on('error', (e) => finish(internal(`container ${a.id}: cannot start berth-monitor: ${e.message}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const r = JSON.parse(buf.slice(0, nl)) as { ok: boolean; pid?: number; error?: string };
        if (r.ok && r.pid) finish(undefined, { pid: r.pid, monitorPid: child.pid! });
        else finish(internal(`container ${a.id}: ${r.error ?? 'runtime create failed'}`));
      } catch (e) {
        finish(internal(`container ${a.id}: bad monitor report ${JSON.stringify(buf.slice(0, nl))}: ${(e as Error).message}`));
      }
    });
    child.on('exit', (code) => {
      if (!settled) finish(internal(`container ${a.id}: berth-monitor exited (${code}) before reporting; see ${a.monitorLog}`));
    });
  });
}
