// Starting a container's berth-monitor (`run` mode): it runs `<runtime> create`, reports
// the container's PID once that has finished, and stays to own stdio, logs and the exit.
import { closeSync, openSync } from 'node:fs';
import { type MonitorReport, spawnMonitor } from '../native/monitor-process.js';
import { runtimeError } from '../oci/runtime-errors.js';

export interface MonitorArgs {
  runtime: string;
  runtimeRoot: string;
  id: string;
  bundle: string;
  /** The log is created as `logRel` beneath `logRoot`, never through a symlink. */
  logRoot: string;
  logRel: string;
  exitFile: string;
  pidFile: string;
  runtimeLog: string;
  /** The monitor's own diagnostics go here. */
  monitorLog: string;
  timeoutMs: number;
}

export async function startMonitor(a: MonitorArgs): Promise<MonitorReport> {
  const errFd = openSync(a.monitorLog, 'a', 0o600);
  try {
    const args = ['run', '--runtime', a.runtime, '--root', a.runtimeRoot, '--id', a.id, '--bundle', a.bundle, '--log-root', a.logRoot, '--log', a.logRel,
      '--exit-file', a.exitFile, '--pid-file', a.pidFile, '--runtime-log', a.runtimeLog];
    return await spawnMonitor(args, { what: `container ${a.id} (monitor log ${a.monitorLog})`, timeoutMs: a.timeoutMs, stderrFd: errFd,
      // The runtime's own words decide the code (a command the image lacks is the request's fault).
      failure: runtimeError,
    });
  } finally {
    closeSync(errFd);
  }
}
