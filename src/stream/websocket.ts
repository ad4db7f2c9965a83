// Exec/attach over WebSocket (KEP-4006; crictl ≥ 1.36 uses it by default): one message
// per write, its first byte the channel — 0 stdin, 1 stdout, 2 stderr, 3 error (the
// final status), 4 resize (JSON sizes). v5.channel.k8s.io adds the CLOSE signal
// [255, channel] (how a client ends its stdin); the base64 variants send text messages
// with the channel as an ASCII digit. The session ends with a normal close (1000), which
// is how the client's readers reach EOF.
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { type CommandChannels, type CommandProcess, type ProtocolVersion, serveCommand, statusMessage } from './remote-command.js';
import { type ChannelRequest, resizeParser } from './spdy-command.js';

/** Sub-protocols for exec/attach over WebSocket, best first. */
export const wsCommandProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];
/** Port-forward over WebSocket: SPDY tunnelled in binary messages (client-go's tunneling dialer). */
export const wsPortForwardProtocols = ['SPDY/3.1+portforward.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

/** Messages in flight on the socket before a channel's writer waits for them to go out. */
const MAX_BUFFERED = 1 << 20;

export function serveWsCommand(ws: WebSocket, protocol: string, req: ChannelRequest, start: () => Promise<CommandProcess>, log: Logger): void {
  const base64 = protocol.includes('base64');
  const version: ProtocolVersion = protocol.startsWith('v5') ? 'v5.channel.k8s.io' : protocol.startsWith('v4') ? 'v4.channel.k8s.io' : 'channel.k8s.io';
  const encode = (channel: number, data: Buffer): Buffer | string =>
    base64 ? String.fromCharCode(48 + channel) + data.toString('base64') : Buffer.concat([Buffer.from([channel]), data]);
  const send = (channel: number, data: Buffer, cb?: (err?: Error) => void) => {
    if (ws.readyState !== ws.OPEN) return cb?.();
    ws.send(encode(channel, data), { binary: !base64 }, cb);
  };
  const writer = (channel: number) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        // Wait for the socket only when much is queued: a client that does not read stalls us, not our memory.
        if (ws.bufferedAmount < MAX_BUFFERED) {
          send(channel, chunk);
          cb();
        } else send(channel, chunk, () => cb());
      },
    });
  const stdin = req.stdin ? new PassThrough() : undefined;
  const resizeListeners: Array<(d: Buffer) => void> = [];
  // Sizes sent before the process is up (the client sends its terminal's size at once) wait for it.
  const earlyResizes: Buffer[] = [];
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    let data = raw;
    if (data.length === 0) return;
    if (version === 'v5.channel.k8s.io' && data[0] === CLOSE) {
      if (data.length === 2 && data[1] === STDIN) stdin?.end();
      return;
    }
    let channel = data[0]!;
    if (base64 || !isBinary) {
      channel -= 48;
      data = Buffer.from(data.subarray(1).toString(), 'base64');
    } else data = data.subarray(1);
    if (channel === STDIN && stdin && !stdin.writableEnded) {
      if (!stdin.write(data)) {
        ws.pause();
        stdin.once('drain', () => ws.resume());
      }
    } else if (channel === RESIZE) {
      if (resizeListeners.length === 0 && earlyResizes.length < 16) earlyResizes.push(Buffer.from(data));
      for (const f of resizeListeners) f(data);
    }
  });
  const aborts: Array<() => void> = [];
  let done = false;
  ws.on('close', () => {
    stdin?.end();
    if (!done) for (const f of aborts) f();
  });
  ws.on('error', (e) => log.debug({ err: e.message }, 'websocket error'));
  const finish = async (status: Buffer) => {
    done = true;
    await new Promise<void>((resolve) => send(ERROR, status, () => resolve()));
    ws.close(1000);
  };
  const ch: CommandChannels = {
    stdin,
    stdout: req.stdout ? writer(STDOUT) : undefined,
    stderr: req.stderr && !req.tty ? writer(STDERR) : undefined,
    onResize: (f) => {
      const parse = resizeParser(f);
      resizeListeners.push(parse);
      for (const d of earlyResizes.splice(0)) parse(d);
    },
    finish,
    onAbort: (f) => aborts.push(f),
  };
  // As the kubelet does: an empty message on the first output channel says the session is up.
  send(req.stdout ? STDOUT : req.stderr ? STDERR : ERROR, Buffer.alloc(0));
  start().then(
    (p) => serveCommand(ch, p, version, req.tty, log),
    async (e: Error) => {
      log.warn({ err: e.message }, 'streaming command could not start');
      await finish(statusMessage(version, undefined, e.message));
    },
  );
}
