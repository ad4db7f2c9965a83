// Exec/attach over SPDY: the client opens one stream per channel, named by its
// `streamtype` header (error, stdin, stdout, stderr, resize). We wait (30 s, like the
// kubelet) for exactly the streams the validated request calls for, then serve.
import { finished } from 'node:stream/promises';
import type { Logger } from '../log.js';
import { type CommandChannels, type CommandProcess, type ProtocolVersion, serveCommand, statusMessage } from './remote-command.js';
import { RstStatus } from './spdy-frames.js';
import type { SpdySession, SpdyStream } from './spdy-session.js';

export const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface ChannelRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export function expectedStreams(r: ChannelRequest, version: ProtocolVersion): Set<string> {
  const s = new Set(['error']);
  if (r.stdin) s.add('stdin');
  if (r.stdout) s.add('stdout');
  if (r.stderr && !r.tty) s.add('stderr');
  if (r.tty && version !== 'channel.k8s.io' && version !== 'v2.channel.k8s.io') s.add('resize');
  return s;
}

/** Splits a stream of newline-separated JSON objects (Go's json.Encoder) into sizes. */
export function resizeParser(f: (cols: number, rows: number) => void): (d: Buffer) => void {
  let pending = '';
  return (d) => {
    pending += d.toString();
    if (pending.length > 64 * 1024) pending = ''; // not a resize stream: drop, do not grow
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      try {
        const m = JSON.parse(line) as { Width?: number; Height?: number };
        if (typeof m.Width === 'number' && typeof m.Height === 'number') f(m.Width, m.Height);
      } catch {
        /* a malformed size is ignored, as the kubelet does */
      }
    }
  };
}

export function serveSpdyCommand(session: SpdySession, version: ProtocolVersion, req: ChannelRequest, start: () => Promise<CommandProcess>, log: Logger): void {
  const want = expectedStreams(req, version);
  const got = new Map<string, SpdyStream>();
  let started = false;
  const timer = setTimeout(() => {
    log.warn({ want: [...want], got: [...got.keys()] }, 'streaming client did not open its streams in time');
    session.close();
  }, STREAM_CREATION_TIMEOUT_MS);
  session.on('close', () => clearTimeout(timer));
  session.on('stream', (s: SpdyStream) => {
    const type = s.headers.get('streamtype') ?? '';
    if (started || !want.has(type) || got.has(type)) {
      log.debug({ type }, 'refusing an unexpected stream');
      s.reset(RstStatus.RefusedStream);
      return;
    }
    s.reply();
    got.set(type, s);
    if (got.size < want.size) return;
    started = true;
    clearTimeout(timer);
    void run(session, version, req, got, start, log);
  });
}

async function run(session: SpdySession, version: ProtocolVersion, req: ChannelRequest, got: Map<string, SpdyStream>, start: () => Promise<CommandProcess>, log: Logger): Promise<void> {
  const error = got.get('error')!;
  error.resume(); // the client never writes on it
  const finish = async (status: Buffer) => {
    if (status.length) error.write(status);
    error.end();
    await finished(error, { readable: false }).catch(() => undefined);
    session.close();
  };
  const aborts: Array<() => void> = [];
  let done = false;
  session.on('close', () => {
    if (!done) for (const f of aborts) f();
  });
  const ch: CommandChannels = {
    stdin: got.get('stdin'),
    stdout: got.get('stdout'),
    stderr: got.get('stderr'),
    onResize: (f) => got.get('resize')?.on('data', resizeParser(f)),
    finish: async (status) => {
      done = true;
      await finish(status);
    },
    onAbort: (f) => aborts.push(f),
  };
  for (const s of got.values()) s.on('error', () => undefined);
  let p: CommandProcess;
  try {
    p = await start();
  } catch (e) {
    done = true;
    log.warn({ err: (e as Error).message }, 'streaming command could not start');
    for (const t of ['stdout', 'stderr'] as const) got.get(t)?.end();
    await finish(statusMessage(version, undefined, (e as Error).message));
    return;
  }
  await serveCommand(ch, p, version, req.tty, log);
}
