// Starting a container's berth-monitor (`run` mode): it runs `<runtime> run --detach`
// (StartContainer; `create` without `start`), reports the container's PID once that has
// finished, and stays to own stdio, logs and the exit.
import { closeSync, openSync } from 'node:fs';
import { type MonitorReport, spawnMonitor } from '../native/monitor-process.js';
import { resolveProgram } from '../oci/exec-file.js';
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
  /** A tty container: the runtime hands the pty master over this console socket. */
  tty?: { consoleSocket: string };
  /** The container reads stdin (from attach sessions); `once`: closed when the first session ends. */
  stdin?: { once: boolean };
  /** Where the monitor serves Attach sessions. */
  attachSocket?: string;
  /** The container's cgroup is a systemd scope: the runtime creates it with --systemd-cgroup. */
  systemdCgroup?: boolean;
  /** StartContainer: `<runtime> run --detach` (create and start) instead of `create`. */
  start?: boolean;
  /** The container's own cgroup (path from the hierarchy root): whose OOM kills are the container's. */
  cgroup?: string;
}

export async function startMonitor(a: MonitorArgs): Promise<MonitorReport> {
  const errFd = openSync(a.monitorLog, 'a', 0o600);
  try {
    // By path: a bare name would have the monitor walk berthd's PATH on every create.
    const args = ['run', '--runtime', resolveProgram(a.runtime) ?? a.runtime, '--root', a.runtimeRoot, '--id', a.id, '--bundle', a.bundle, '--log-root', a.logRoot, '--log', a.logRel,
      '--exit-file', a.exitFile, '--pid-file', a.pidFile, '--runtime-log', a.runtimeLog];
    if (a.tty) args.push('--tty', '1', '--console-socket', a.tty.consoleSocket);
    if (a.stdin) args.push('--stdin', '1', '--stdin-once', a.stdin.once ? '1' : '0');
    if (a.attachSocket) args.push('--attach-socket', a.attachSocket);
    if (a.systemdCgroup) args.push('--systemd-cgroup', '1');
    if (a.start) args.push('--start', '1');
    if (a.cgroup) args.push('--cgroup', a.cgroup);
    return await spawnMonitor(args, { what: `container ${a.id} (monitor log ${a.monitorLog})`, timeoutMs: a.timeoutMs, stderrFd: errFd,
      // The runtime's own words decide the code (a command the image lacks is the request's fault).
      failure: runtimeError,
    });
  } finally {
    closeSync(errFd);
  }
}
