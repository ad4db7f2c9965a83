// One SPDY/3.1 connection, server side: the client opens every stream (exec's
// stdin/stdout/stderr/error/resize, port-forward's data/error pairs); we reply, relay
// data, and end or reset them. Each stream is a Node Duplex, so `pipe()` between a
// stream and a process or socket carries back-pressure both ways: a client that stops
// reading stalls our socket writes, which stall the source; a stream whose reader is
// slow pauses the socket (and so the client), never an unbounded buffer.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import {
  controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, FLAG_FIN, type Frame, FrameType, goAwayFrame, HeaderCompressor,
  HeaderDecompressor, parseFrames, pingFrame, RstStatus, rstStreamFrame,
} from './spdy-frames.js';

/** Largest DATA frame we send (Go's spdystream reads any size; this keeps latency low). */
const MAX_DATA_FRAME = 32 * 1024;
/** Most streams one connection may open (port-forward opens two per TCP connection). */
const MAX_STREAMS = 1024;

export class SpdyStream extends Duplex {
  private readBlocked = false;
  private remoteEnded = false;
  private localEnded = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Map<string, string>,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 64 * 1024 });
    this.on('end', () => {
      this.remoteEnded = true;
      this.maybeForget();
    });
  }

  /** Accepts the stream (SYN_REPLY, no headers). */
  reply(): void {
    this.session.send(controlFrame(FrameType.SynReply, 0, Buffer.concat([u32(this.id), this.session.compressor.compress(encodeHeaderBlock({}))])));
  }

  /** Refuses or aborts the stream. */
  reset(status: RstStatus = RstStatus.Cancel): void {
    if (!this.localEnded || !this.remoteEnded) this.session.send(rstStreamFrame(this.id, status));
    this.localEnded = this.remoteEnded = true;
    this.destroy();
  }

  /** Data from the peer; false when our reader is behind (the session pauses the socket). */
  receive(data: Buffer, fin: boolean): void {
    if (this.remoteEnded || this.destroyed) return;
    if (data.length > 0 && !this.push(data)) {
      this.readBlocked = true;
      this.session.block(this);
    }
    if (fin) {
      this.remoteEnded = true;
      this.push(null);
    }
  }

  override _read(): void {
    if (this.readBlocked) {
      this.readBlocked = false;
      this.session.unblock(this);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.localEnded) return cb();
    let ok = true;
    for (let off = 0; off < chunk.length; off += MAX_DATA_FRAME) {
      ok = this.session.send(dataFrame(this.id, 0, chunk.subarray(off, off + MAX_DATA_FRAME)));
    }
    if (ok) cb();
    else this.session.whenDrained(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localEnded) {
      this.localEnded = true;
      this.session.send(dataFrame(this.id, FLAG_FIN, Buffer.alloc(0)));
    }
    this.maybeForget();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.session.forget(this);
    cb(err);
  }

  private maybeForget(): void {
    if (this.localEnded && this.remoteEnded) this.session.forget(this);
  }
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/**
 * Emits 'stream' (SpdyStream) for each SYN_STREAM — the listener must reply() or reset()
 * — and 'close' once the connection is gone (every stream destroyed by then).
 */
export class SpdySession extends EventEmitter {
  readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly blocked = new Set<SpdyStream>();
  private drainWaiters: Array<() => void> = [];
  private buf: Buffer = Buffer.alloc(0);
  private busy = false;
  private closed = false;
  private tornDown = false;
  private lastStreamId = 0;

  constructor(
    /** A TCP socket, or a WebSocket's byte stream (SPDY tunnelled in WebSocket). */
    private readonly socket: Duplex,
    head: Buffer,
    private readonly log: Logger,
  ) {
    super();
    (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('drain', () => {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    });
    socket.on('error', (e) => this.log.debug({ err: e.message }, 'spdy connection error'));
    socket.on('close', () => this.teardown());
    // The server's sockets allow half-open connections, but a SPDY client that stops
    // writing is gone (Go's spdystream closes the whole connection): end ours too, so the
    // streams are torn down and their processes ended.
    socket.on('end', () => {
      this.teardown();
      socket.end();
    });
    if (head.length) this.onData(head);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  send(frame: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return true;
    return this.socket.write(frame);
  }

  whenDrained(f: () => void): void {
    if (this.closed || this.socket.destroyed || !this.socket.writableNeedDrain) f();
    else this.drainWaiters.push(f);
  }

  block(s: SpdyStream): void {
    this.blocked.add(s);
    this.socket.pause();
  }

  unblock(s: SpdyStream): void {
    this.blocked.delete(s);
    if (this.blocked.size === 0 && !this.closed) this.socket.resume();
  }

  forget(s: SpdyStream): void {
    this.streams.delete(s.id);
    this.unblock(s);
  }

  /** Says goodbye (GOAWAY) once what was written has gone, and ends the connection. */
  close(): void {
    if (this.closed) return;
    this.send(goAwayFrame(this.lastStreamId));
    this.closed = true;
    this.socket.end();
    // A peer that never reads must not keep the socket (and us) forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
    this.decompressor.close();
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
    this.emit('close');
  }

  private fail(why: string): void {
    this.log.warn({ err: why }, 'spdy protocol error: closing the connection');
    if (!this.socket.destroyed) this.socket.write(goAwayFrame(this.lastStreamId, 1));
    this.socket.end();
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (!this.busy) void this.process();
  }

  /** Frames in order, one at a time: header blocks inflate asynchronously, and order matters. */
  private async process(): Promise<void> {
    this.busy = true;
    try {
      while (!this.socket.destroyed) {
        let parsed: { frames: Frame[]; rest: Buffer };
        try {
          parsed = parseFrames(this.buf);
        } catch (e) {
          return this.fail((e as Error).message);
        }
        this.buf = parsed.rest;
        if (parsed.frames.length === 0) return;
        for (const f of parsed.frames) {
          if (f.kind === 'data') this.onDataFrame(f.streamId, f.flags, f.data);
          else await this.onControl(f.type, f.flags, f.payload);
          if (this.socket.destroyed) return;
        }
      }
    } catch (e) {
      this.fail((e as Error).message);
    } finally {
      this.busy = false;
    }
  }

  private onDataFrame(id: number, flags: number, data: Buffer): void {
    const s = this.streams.get(id);
    if (!s) {
      this.send(rstStreamFrame(id, RstStatus.InvalidStream));
      return;
    }
    s.receive(data, (flags & FLAG_FIN) !== 0);
  }

  private async onControl(type: number, flags: number, p: Buffer): Promise<void> {
    const need = (n: number) => {
      if (p.length < n) throw new Error(`SPDY control frame ${type} is too short`);
    };
    switch (type) {
      case FrameType.SynStream: {
        need(10);
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.decompressor.decompress(p.subarray(10)));
        if (id === 0 || id % 2 === 0 || id <= this.lastStreamId) throw new Error(`SPDY SYN_STREAM with bad stream id ${id}`);
        this.lastStreamId = id;
        if (this.streams.size >= MAX_STREAMS || this.closed) {
          this.send(rstStreamFrame(id, RstStatus.RefusedStream));
          return;
        }
        const s = new SpdyStream(this, id, headers);
        this.streams.set(id, s);
        if (flags & FLAG_FIN) s.receive(Buffer.alloc(0), true);
        if (this.listenerCount('stream') === 0) s.reset(RstStatus.RefusedStream);
        else this.emit('stream', s);
        return;
      }
      case FrameType.SynReply:
        need(4);
        await this.decompressor.decompress(p.subarray(4)); // keeps the shared zlib state in step
        return;
      case FrameType.Headers:
        need(4);
        await this.decompressor.decompress(p.subarray(4));
        return;
      case FrameType.RstStream: {
        need(8);
        const s = this.streams.get(p.readUInt32BE(0) & 0x7fffffff);
        if (s) s.destroy();
        return;
      }
      case FrameType.Ping:
        need(4);
        this.send(pingFrame(p.readUInt32BE(0)));
        return;
      case FrameType.GoAway:
        // The client is done: what is in flight finishes, no new streams come.
        return;
      case FrameType.Settings:
      case FrameType.WindowUpdate:
        // Go's spdystream has no flow control; neither side enforces windows.
        return;
      default:
        // Unknown control frames are ignored (SPDY/3 §2.2.1).
        return;
    }
  }
}
