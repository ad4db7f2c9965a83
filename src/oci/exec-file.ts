// Runs a command to completion with a time limit, capturing bounded output.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { native } from '../native/index.js';

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

/**
 * Per-stream cap on captured output. ExecSync replies carry stdout and stderr in one
 * message, and the kubelet's gRPC client takes at most 16 MiB: 2 × 4 MiB plus the
 * truncation notes stays well under it. Output past the cap is read and dropped (so the
 * command is never blocked on a full pipe) and berthd holds at most the cap per stream.
 */
export const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * How long output may still arrive after the command itself has exited. A background
 * child (`sleep 3600 & echo started`) keeps the pipes open for its whole life; the answer
 * is what was written by the time the command exited, plus this grace to drain it.
 */
export const EXIT_DRAIN_MS = 250;

export const truncationNote = (dropped: number, limit: number) =>
  Buffer.from(`\n[berth: output truncated: ${dropped} bytes beyond the ${limit}-byte limit were dropped]\n`);

/** Collects at most `limit` bytes of a stream; counts and drops the rest. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  push = (d: Buffer): void => {
    const room = this.limit - this.size;
    if (room <= 0) {
      this.dropped += d.length;
      return;
    }
    const kept = d.length > room ? d.subarray(0, room) : d;
    this.chunks.push(kept);
    this.size += kept.length;
    this.dropped += d.length - kept.length;
  };

  result(): Buffer {
    const out = Buffer.concat(this.chunks);
    return this.dropped ? Buffer.concat([out, truncationNote(this.dropped, this.limit)]) : out;
  }
}

export interface RunOptions {
  timeoutMs?: number;
  maxOutput?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  onSpawn?: (pid: number) => void;
  onTimeout?: () => Promise<void>;
}

const resolved = new Map<string, string>();

/** `cmd` as an absolute path, looked up in PATH like execvp would (cached per PATH). */
export function resolveProgram(cmd: string, pathVar = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  if (cmd.includes('/')) return path.resolve(cmd);
  const key = `${cmd}\0${pathVar}`;
  const hit = resolved.get(key);
  if (hit) return hit;
  for (const dir of pathVar.split(':')) {
    const p = path.resolve(dir || '.', cmd);
    try {
      accessSync(p, constants.X_OK);
      resolved.set(key, p);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Runs a command to completion. Without per-process hooks it is spawned natively
 * (posix_spawn: no fork of berthd's memory, see native/core/src/proc.rs), which is what
 * the CNI plugins and the OCI runtime's CLI calls of every pod start take.
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (opts.onSpawn || opts.onTimeout) return runWithHooks(cmd, args, opts);
  const program = resolveProgram(cmd, opts.env ? opts.env.PATH : process.env.PATH);
  if (!program) throw Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: 'ENOENT', path: cmd });
  const limit = opts.maxOutput ?? MAX_OUTPUT;
  const env = opts.env && Object.entries(opts.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const r = await native.runProcess({ program, args, env, input: opts.input, maxOutput: limit, timeoutMs: opts.timeoutMs ?? 0, drainMs: EXIT_DRAIN_MS });
  const note = (b: Buffer, dropped: number) => (dropped ? Buffer.concat([b, truncationNote(dropped, limit)]) : b);
  return { code: r.code, stdout: note(r.stdout, r.stdoutDropped), stderr: note(r.stderr, r.stderrDropped), timedOut: r.timedOut };
}

/** Node's spawn, for callers that need the child's PID or their own way of killing it. */
function runWithHooks(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const limit = opts.maxOutput ?? MAX_OUTPUT;
    const out = new Capture(limit);
    const err = new Capture(limit);
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let done = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (drainTimer) clearTimeout(drainTimer);
      // Whatever still holds the pipes (a background child) gets EOF/EPIPE from here on.
      child.stdout.destroy();
      child.stderr.destroy();
      const code = exit?.code ?? (exit?.signal ? 128 : 1);
      resolve({ code, stdout: out.result(), stderr: err.result(), timedOut });
    };
    child.stdout.on('data', out.push);
    child.stderr.on('data', err.push);
    child.on('error', (e) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      reject(e);
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          // The caller's onTimeout kills the right processes (e.g. the exec'd tree, not runc).
          if (!opts.onTimeout) {
            child.kill('SIGKILL');
          } else {
            // Give the parent (e.g. `runc exec`) a moment to reap what onTimeout killed, so
            // no zombie is reparented into the container; SIGKILL it only if it lingers.
            void opts.onTimeout().finally(() => setTimeout(() => child.kill('SIGKILL'), 2000).unref());
          }
          // The answer does not wait for pipes a stray process may still hold.
          drainTimer ??= setTimeout(finish, 2000 + EXIT_DRAIN_MS);
        }, opts.timeoutMs)
      : undefined;
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      drainTimer ??= setTimeout(finish, EXIT_DRAIN_MS);
    });
    // 'close' comes once the command exited and every holder of its pipes closed them.
    child.on('close', (code, signal) => {
      exit ??= { code, signal };
      finish();
    });
    // A child that exits without reading its stdin must not crash berthd with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
