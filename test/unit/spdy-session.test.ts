// A SpdySession against a raw peer on a loopback socket: streams come with their
// headers, get replies and data both ways; pings are answered; data for an unknown
// stream is reset; a client's FIN ends the session.
import test from 'ava';
import net from 'node:net';
import zlib from 'node:zlib';
import { pino } from 'pino';
import {
  controlFrame, dataFrame, encodeHeaderBlock, FLAG_FIN, type Frame, FrameType, HEADER_DICTIONARY, HeaderDecompressor, parseFrames, pingFrame,
} from '../../src/stream/spdy-frames.js';
import { SpdySession, type SpdyStream } from '../../src/stream/spdy-session.js';

const log = pino({ level: 'silent' });

/** The client end: raw frames out, parsed frames in. */
async function pair() {
  let session!: SpdySession;
  const server = net.createServer((s) => {
    session = new SpdySession(s, Buffer.alloc(0), log);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  while (!session) await new Promise((r) => setTimeout(r, 5));
  const frames: Frame[] = [];
  let buf: Buffer = Buffer.alloc(0);
  client.on('data', (d: Buffer) => {
    const p = parseFrames(Buffer.concat([buf, d]));
    frames.push(...p.frames);
    buf = p.rest;
  });
  const deflate = zlib.createDeflate({ dictionary: HEADER_DICTIONARY });
  const compress = (b: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const out: Buffer[] = [];
      const on = (c: Buffer) => out.push(c);
      deflate.on('data', on);
      deflate.write(b);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => setImmediate(() => (deflate.off('data', on), resolve(Buffer.concat(out)))));
    });
  const syn = async (id: number, headers: Record<string, string>, flags = 0) => {
    const head = Buffer.alloc(10);
    head.writeUInt32BE(id, 0);
    client.write(controlFrame(FrameType.SynStream, flags, Buffer.concat([head, await compress(encodeHeaderBlock(headers))])));
  };
  const waitFor = async (pred: (f: Frame) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const f = frames.find(pred);
      if (f) return f;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('frame never came');
  };
  return { server, client, session, syn, frames, waitFor };
}

test('streams: headers, reply, data both ways, FIN; the reply header block is readable zlib', async (t) => {
  const { server, client, session, syn, waitFor } = await pair();
  const got = new Promise<SpdyStream>((resolve) => session.on('stream', resolve));
  await syn(1, { streamtype: 'stdout', port: '80' });
  const s = await got;
  t.is(s.headers.get('streamtype'), 'stdout');
  s.reply();
  const reply = await waitFor((f) => f.kind === 'control' && f.type === FrameType.SynReply);
  const inflater = new HeaderDecompressor();
  t.deepEqual((await inflater.decompress((reply as { payload: Buffer }).payload.subarray(4))).readUInt32BE(0), 0);
  inflater.close();
  const received: Buffer[] = [];
  s.on('data', (d: Buffer) => received.push(d));
  const ended = new Promise((r) => s.once('end', r));
  client.write(dataFrame(1, 0, Buffer.from('ping ')));
  client.write(dataFrame(1, FLAG_FIN, Buffer.from('pong')));
  await ended;
  t.is(Buffer.concat(received).toString(), 'ping pong');
  s.end(Buffer.alloc(100_000, 'z'));
  await waitFor((f) => f.kind === 'data' && f.streamId === 1 && (f.flags & FLAG_FIN) !== 0);
  client.destroy();
  server.close();
});

test('pings are echoed; data for an unknown stream is reset; a client FIN tears streams down', async (t) => {
  const { server, client, session, syn, waitFor } = await pair();
  client.write(pingFrame(7));
  const pong = await waitFor((f) => f.kind === 'control' && f.type === FrameType.Ping);
  t.is((pong as { payload: Buffer }).payload.readUInt32BE(0), 7);
  client.write(dataFrame(99, 0, Buffer.from('who?')));
  const rst = await waitFor((f) => f.kind === 'control' && f.type === FrameType.RstStream);
  t.is((rst as { payload: Buffer }).payload.readUInt32BE(0), 99);
  const got = new Promise<SpdyStream>((resolve) => session.on('stream', resolve));
  await syn(1, { streamtype: 'stdin' });
  const s = await got;
  s.reply();
  const closed = new Promise((r) => s.once('close', r));
  const sessionClosed = new Promise((r) => session.once('close', r));
  client.end();
  await closed;
  await sessionClosed;
  t.pass();
  server.close();
});

test('a stream id that does not grow, or garbage, ends the connection', async (t) => {
  const { server, client, session, syn } = await pair();
  session.on('stream', (s: SpdyStream) => s.reply());
  await syn(3, { a: 'b' });
  const gone = new Promise((r) => client.once('close', r));
  await syn(1, { a: 'b' });
  await gone;
  t.pass();
  server.close();
});
