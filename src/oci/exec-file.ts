// Runs a command to completion with a time limit, capturing output.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void; onTimeout?: () => Promise<void> } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          // The caller's onTimeout kills the right process (e.g. the exec'd one, not runc).
          if (!opts.onTimeout) return void child.kill('SIGKILL');
          // Give the parent (e.g. `runc exec`) a moment to reap what onTimeout killed, so
          // no zombie is reparented into the container; SIGKILL it only if it lingers.
          void opts.onTimeout().finally(() => setTimeout(() => child.kill('SIGKILL'), 2000).unref());
        }, opts.timeoutMs)
      : undefined;
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut });
    });
    // A child that exits without reading its stdin must not crash berthd with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
