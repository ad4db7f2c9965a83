// Runs a command to completion with a time limit, capturing output.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

/** Per-stream cap on captured output (ExecSync answers are small; this is a guard). */
export const MAX_OUTPUT = 16 * 1024 * 1024;

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; maxOutput?: number; input?: string; env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void; onTimeout?: () => Promise<void> } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    // Output is bounded: a chatty command cannot grow berthd without limit (the rest is dropped).
    const limit = opts.maxOutput ?? MAX_OUTPUT;
    const keep = (into: Buffer[]) => {
      let size = 0;
      return (d: Buffer) => {
        if (size >= limit) return;
        into.push(size + d.length > limit ? d.subarray(0, limit - size) : d);
        size += d.length;
      };
    };
    child.stdout.on('data', keep(out));
    child.stderr.on('data', keep(err));
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
