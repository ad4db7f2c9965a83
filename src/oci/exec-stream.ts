// A streaming exec (the Exec RPC's process): `berth-monitor exec` with the caller's
// stdin, a pty when asked (the monitor receives the master from the runtime's console
// socket and relays it), and no output cap — berthd reads as fast as the client reads,
// so the pipes carry the back-pressure to the process. The exit code is the monitor's.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { monitorPath } from '../native/index.js';
import { processTree } from '../util/procfs.js';

export interface StreamingExec {
  stdin?: Writable;
  stdout: Readable;
  /** The runtime's own complaints (and, without a tty, the process's stderr). */
  stderr: Readable;
  resize(cols: number, rows: number): void;
  /** The process's exit code, once it has exited and its output has been read. */
  exited: Promise<number>;
  /** Kills the exec'd process and what it started (the client went away). */
  kill(): void;
}

export interface StreamingExecOptions {
  runtime: string;
  runtimeRoot: string;
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  /** Where the pid file goes (the container's bundle). */
  stateDir: string;
  /** A 0700 directory for the console socket (short path: sun_path holds 108 bytes). */
  consoleDir: string;
}

/** "No cap": the monitor's per-stream output limit, for streams that are relayed, not kept. */
const UNLIMITED = '18446744073709551615';

export async function startStreamingExec(o: StreamingExecOptions): Promise<StreamingExec> {
  const tag = randomBytes(6).toString('hex');
  const pidFile = path.join(o.stateDir, `exec-${tag}.pid`);
  const args = ['exec', '--runtime', o.runtime, '--root', o.runtimeRoot, '--id', o.containerId, '--pid-file', pidFile, '--max-output', UNLIMITED];
  if (o.stdin) args.push('--stdin', '1');
  if (o.tty) {
    await fs.mkdir(o.consoleDir, { recursive: true, mode: 0o700 });
    args.push('--tty', '1', '--console-socket', path.join(o.consoleDir, `${tag}.sock`));
  }
  args.push('--', ...o.cmd);
  const child = spawn(monitorPath(), args, { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', o.tty ? 'pipe' : 'ignore'] });
  const control = child.stdio[3] as Writable | null;
  control?.on('error', () => undefined);
  child.stdin?.on('error', () => undefined); // the process may exit without reading its input
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(255));
    child.on('close', (code, signal) => {
      control?.destroy();
      void fs.rm(pidFile, { force: true });
      resolve(code ?? (signal ? 128 + 9 : 255));
    });
  });
  return {
    stdin: child.stdin ?? undefined,
    stdout: child.stdout!,
    stderr: child.stderr!,
    resize(cols, rows) {
      if (control && !control.destroyed && cols > 0 && rows > 0) control.write(`${cols} ${rows}\n`);
    },
    exited,
    kill() {
      void killWhenStarted(pidFile, exited, () => child.kill('SIGKILL'));
    },
  };
}

/**
 * Kills the exec'd process and its descendants. The runtime writes the pid file only
 * after the process has started (it may already have written output by then): a little
 * patience, and only if the file never comes is the monitor itself ended.
 */
async function killWhenStarted(pidFile: string, exited: Promise<number>, killMonitor: () => void): Promise<void> {
  let over = false;
  void exited.then(() => (over = true));
  for (let i = 0; i < 100 && !over; i++) {
    let pid = 0;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      /* not written yet */
    }
    if (pid > 0) {
      // The tree first, then the kills: a parent killed first would orphan its children unseen.
      for (const p of processTree(pid)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      return; // the monitor sees the exit and ends
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!over) killMonitor();
}
