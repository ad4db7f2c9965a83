// SPDY/3.1 framing: the frame layout, the header blocks and their zlib compression with
// the protocol's dictionary. Why our own: Kubernetes still speaks SPDY/3.1 for exec,
// attach and port-forward, but npm has no maintained SPDY library — the `spdy` package
// is unmaintained, HTTP-oriented (it wants to serve HTTP requests over SPDY streams) and
// pulls in a tree of dead dependencies. The subset the Kubernetes clients use is small:
// SYN_STREAM / SYN_REPLY / RST_STREAM / DATA / PING / GOAWAY (+ SETTINGS, WINDOW_UPDATE,
// HEADERS read and ignored, as the Go spdystream library does — it has no flow control).
import zlib from 'node:zlib';

export const SPDY_VERSION = 3;

export const enum FrameType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

export const FLAG_FIN = 0x01;

/** RST_STREAM status codes (SPDY/3 §2.6.3). */
export const enum RstStatus {
  ProtocolError = 1,
  InvalidStream = 2,
  RefusedStream = 3,
  Cancel = 5,
  InternalError = 6,
  StreamInUse = 8,
  StreamAlreadyClosed = 9,
  FrameTooLarge = 11,
}

/** Largest frame payload we accept; SPDY allows 16 MiB, no Kubernetes client sends more than 32 KiB. */
export const MAX_FRAME_PAYLOAD = 1 << 20;

export type Frame =
  | { kind: 'data'; streamId: number; flags: number; data: Buffer }
  | { kind: 'control'; type: number; version: number; flags: number; payload: Buffer };

/**
 * Cuts whole frames off the front of `buf`. Returns the frames and the unconsumed rest;
 * throws on a frame over MAX_FRAME_PAYLOAD (the caller ends the session).
 */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const w0 = buf.readUInt32BE(off);
    const w1 = buf.readUInt32BE(off + 4);
    const flags = w1 >>> 24;
    const len = w1 & 0xffffff;
    if (len > MAX_FRAME_PAYLOAD) throw new Error(`SPDY frame of ${len} bytes is over the ${MAX_FRAME_PAYLOAD}-byte limit`);
    if (buf.length - off - 8 < len) break;
    const payload = buf.subarray(off + 8, off + 8 + len);
    if (w0 & 0x80000000) frames.push({ kind: 'control', version: (w0 >>> 16) & 0x7fff, type: w0 & 0xffff, flags, payload });
    else frames.push({ kind: 'data', streamId: w0 & 0x7fffffff, flags, data: payload });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export function controlFrame(type: FrameType, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE((0x80000000 | (SPDY_VERSION << 16) | type) >>> 0, 0);
  h.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([h, payload]);
}

export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(streamId & 0x7fffffff, 0);
  h.writeUInt32BE(((flags << 24) | data.length) >>> 0, 4);
  return Buffer.concat([h, data]);
}

const u32 = (...vals: number[]) => {
  const b = Buffer.alloc(4 * vals.length);
  vals.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
};

export const rstStreamFrame = (streamId: number, status: RstStatus) => controlFrame(FrameType.RstStream, 0, u32(streamId & 0x7fffffff, status));
export const pingFrame = (id: number) => controlFrame(FrameType.Ping, 0, u32(id));
export const goAwayFrame = (lastGoodStreamId: number, status = 0) => controlFrame(FrameType.GoAway, 0, u32(lastGoodStreamId & 0x7fffffff, status));

/** A header block (uncompressed): count, then length-prefixed name and value; multiple values NUL-separated. */
export function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [k, v] of Object.entries(headers)) {
    const name = Buffer.from(k.toLowerCase());
    const value = Buffer.from(v);
    parts.push(u32(name.length), name, u32(value.length), value);
  }
  return Buffer.concat(parts);
}

export const MAX_HEADERS = 1000;

export function decodeHeaderBlock(b: Buffer): Map<string, string> {
  const h = new Map<string, string>();
  const need = (off: number, n: number) => {
    if (off + n > b.length) throw new Error('SPDY header block is truncated');
  };
  need(0, 4);
  const count = b.readUInt32BE(0);
  if (count > MAX_HEADERS) throw new Error(`SPDY header block has ${count} headers`);
  let off = 4;
  for (let i = 0; i < count; i++) {
    need(off, 4);
    const nl = b.readUInt32BE(off);
    need(off + 4, nl + 4);
    const name = b.subarray(off + 4, off + 4 + nl).toString().toLowerCase();
    off += 4 + nl;
    const vl = b.readUInt32BE(off);
    need(off + 4, vl);
    h.set(name, b.subarray(off + 4, off + 4 + vl).toString());
    off += 4 + vl;
  }
  return h;
}

/**
 * The zlib dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): 65 length-
 * prefixed header names and values, then a run of common status texts, dates and types.
 */
const dictionaryWords = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie',
  'keep-alive', 'origin',
];
const dictionaryTail =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

export const HEADER_DICTIONARY = Buffer.concat([
  ...dictionaryWords.flatMap((w) => [u32(w.length), Buffer.from(w)]),
  Buffer.from(dictionaryTail, 'latin1'),
]);

export function adler32(b: Buffer): number {
  let a = 1;
  let s = 0;
  for (const byte of b) {
    a = (a + byte) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

/**
 * The sending side of a session's header compression. SPDY runs one zlib stream per
 * direction for the whole connection. We only ever send tiny blocks (empty SYN_REPLYs,
 * a few port-forward headers), so they go out as deflate *stored* blocks: valid zlib
 * that any inflater (Go's included) reads, with no compressor state to keep, and
 * synchronous. The first block carries the zlib header naming the dictionary.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78 (deflate, 32 KiB window), FLG 0x20 (FDICT; 0x7820 % 31 == 0), then the dictionary's Adler-32.
      parts.push(Buffer.from([0x78, 0x20]), u32(adler32(HEADER_DICTIONARY)));
    }
    for (let off = 0; off < block.length; off += 0xffff) parts.push(storedBlock(block.subarray(off, off + 0xffff)));
    // And an empty stored block, as a zlib sync flush ends: inflaters (Go's) hand out what
    // they decoded only when the next block begins, so the frame must hold that beginning.
    parts.push(storedBlock(Buffer.alloc(0)));
    return Buffer.concat(parts);
  }
}

/** A non-final deflate stored block (BFINAL=0, BTYPE=00, byte-aligned): LEN, ~LEN, the bytes. */
function storedBlock(data: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt16LE(data.length, 1);
  h.writeUInt16LE(~data.length & 0xffff, 3);
  return Buffer.concat([h, data]);
}

/** Most bytes one header block may inflate to (a zlib bomb in a SYN_STREAM stops here). */
export const MAX_HEADER_BLOCK = 256 * 1024;

/**
 * The receiving side: one inflate stream with the dictionary for the whole session. The
 * peer ends each block with a sync flush, so each block's output is complete once our
 * own sync flush of that input has finished. Calls must not overlap (the session feeds
 * frames one at a time).
 */
export class HeaderDecompressor {
  private readonly inflate = zlib.createInflate({ dictionary: HEADER_DICTIONARY });
  private chunks: Buffer[] = [];
  private size = 0;
  private failed: Error | undefined;

  constructor() {
    this.inflate.on('data', (d: Buffer) => {
      this.size += d.length;
      if (this.size <= MAX_HEADER_BLOCK) this.chunks.push(d);
    });
    this.inflate.on('error', (e) => (this.failed = e));
  }

  decompress(block: Buffer): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    this.chunks = [];
    this.size = 0;
    return new Promise((resolve, reject) => {
      // On bad input zlib errors out and never calls the flush back.
      const onError = (e: Error) => reject(new Error(`SPDY header block: ${e.message}`));
      this.inflate.once('error', onError);
      this.inflate.write(block);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        // 'data' for this flush is emitted before the flush's callback (same tick of the zlib work callback).
        setImmediate(() => {
          this.inflate.off('error', onError);
          if (this.failed) return reject(new Error(`SPDY header block: ${this.failed.message}`));
          if (this.size > MAX_HEADER_BLOCK) return reject(new Error(`SPDY header block inflates past ${MAX_HEADER_BLOCK} bytes`));
          resolve(Buffer.concat(this.chunks));
        });
      });
    });
  }

  close(): void {
    this.inflate.destroy();
  }
}
