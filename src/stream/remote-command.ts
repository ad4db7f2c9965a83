// Exec and attach, whatever carries them (SPDY streams or WebSocket channels): the
// client's stdin to the process, its output to the client, terminal resizes, and at the
// end the status on the error channel — a metav1.Status with the exit code from v4 on,
// plain text before — then the connection closes.
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from '../log.js';

/** The channels of one session, as the client opened them. */
export interface CommandChannels {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Called with each terminal size the client sends. */
  onResize(f: (cols: number, rows: number) => void): void;
  /** Sends the final status (already encoded for the negotiated protocol) and closes. */
  finish(status: Buffer): Promise<void>;
  /** Called once if the client goes away before the end. */
  onAbort(f: () => void): void;
}

/** What runs behind the channels: an exec'd process or an attachment to the container. */
export interface CommandProcess {
  stdin?: Writable;
  stdout: Readable;
  stderr?: Readable;
  resize(cols: number, rows: number): void;
  /** The exit code, or undefined when there is none to report (a detached attach). */
  exited: Promise<number | undefined>;
  /** The client went away. */
  abort(): void;
}

export type ProtocolVersion = 'channel.k8s.io' | 'v2.channel.k8s.io' | 'v3.channel.k8s.io' | 'v4.channel.k8s.io' | 'v5.channel.k8s.io';

export function statusMessage(version: ProtocolVersion, exitCode: number | undefined, error?: string): Buffer {
  const v4 = version === 'v4.channel.k8s.io' || version === 'v5.channel.k8s.io';
  if (error !== undefined) {
    return Buffer.from(v4 ? JSON.stringify({ metadata: {}, status: 'Failure', message: error, reason: 'InternalError', code: 500 }) : error);
  }
  if (!exitCode) return Buffer.from(v4 ? JSON.stringify({ metadata: {}, status: 'Success' }) : '');
  const message = `command terminated with non-zero exit code: exit status ${exitCode}`;
  if (!v4) return Buffer.from(message);
  return Buffer.from(
    JSON.stringify({
      metadata: {}, status: 'Failure', message, reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
    }),
  );
}

const ended = (w: Writable | undefined) => (w ? finished(w, { readable: false }).catch(() => undefined) : Promise.resolve());

/**
 * Wires `p` to `ch` and runs to the end. Output the client did not ask for is read and
 * dropped, so the process is never blocked on it.
 */
export async function serveCommand(ch: CommandChannels, p: CommandProcess, version: ProtocolVersion, tty: boolean, log: Logger): Promise<void> {
  let aborted = false;
  ch.onAbort(() => {
    aborted = true;
    // Nobody reads the output any more: drop it, so the process (and its monitor, blocked
    // on a full pipe) can run to the end that abort() brings.
    for (const out of [p.stdout, p.stderr]) {
      out?.unpipe();
      out?.resume();
    }
    p.abort();
  });
  if (ch.stdin && p.stdin) ch.stdin.pipe(p.stdin);
  else ch.stdin?.resume();
  ch.onResize((c, r) => p.resize(c, r));
  if (ch.stdout) p.stdout.pipe(ch.stdout);
  else p.stdout.resume();
  // With a tty there is no stderr channel: what the runtime says goes to stdout, unasked-for stderr nowhere.
  const errTo = tty ? undefined : ch.stderr;
  if (p.stderr && errTo) p.stderr.pipe(errTo);
  else if (p.stderr && tty && ch.stdout) p.stderr.on('data', (d: Buffer) => ch.stdout!.writable && ch.stdout!.write(d));
  else p.stderr?.resume();
  if (!errTo) ch.stderr?.end();
  const code = await p.exited;
  if (aborted) return;
  // Output first (the client reads stdout/stderr to the end before the error channel).
  await Promise.all([ended(ch.stdout), ended(ch.stderr)]);
  log.debug({ code }, 'remote command finished');
  await ch.finish(statusMessage(version, code));
}
