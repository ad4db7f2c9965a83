// One Attach session: a connection to the container's berth-monitor attach socket
// (framing in native/monitor/src/attach.rs: `[kind u8][len u32 BE][bytes]`). The
// container's output arrives as stdout/stderr frames (the log gets it too, from the
// monitor); the session's stdin goes out as stdin frames, its end as an end-of-stdin
// frame, and window sizes as resize frames. Ending the session detaches; the container
// keeps running.
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';

const KIND_STDIN = 0;
const KIND_STDOUT = 1;
const KIND_STDERR = 2;
const KIND_STDIN_END = 3;
const KIND_RESIZE = 4;

export interface AttachSession {
  stdin: Writable;
  stdout: PassThrough;
  stderr: PassThrough;
  resize(cols: number, rows: number): void;
  /** Resolves when the session is over (the container exited, or we detached). */
  ended: Promise<void>;
  detach(): void;
}

function frame(kind: number, data: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h[0] = kind;
  h.writeUInt32BE(data.length, 1);
  return Buffer.concat([h, data]);
}

export function connectAttach(socketPath: string): Promise<AttachSession> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      sock.on('error', () => undefined);
      resolve(session(sock));
    });
  });
}

function session(sock: net.Socket): AttachSession {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let buf: Buffer = Buffer.alloc(0);
  // A reader that is behind pauses the socket: the monitor keeps a bounded backlog for us.
  const pushTo = (s: PassThrough, d: Buffer) => {
    if (!s.write(d)) {
      sock.pause();
      s.once('drain', () => sock.resume());
    }
  };
  sock.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const kind = buf[0];
      const data = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      if (kind === KIND_STDOUT) pushTo(stdout, data);
      else if (kind === KIND_STDERR) pushTo(stderr, data);
    }
  });
  const ended = new Promise<void>((resolve) =>
    sock.on('close', () => {
      stdout.end();
      stderr.end();
      resolve();
    }),
  );
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (sock.destroyed) return cb();
      if (sock.write(frame(KIND_STDIN, chunk))) cb();
      else sock.once('drain', () => cb());
    },
    final(cb) {
      if (!sock.destroyed) sock.write(frame(KIND_STDIN_END, Buffer.alloc(0)));
      cb();
    },
  });
  return {
    stdin, stdout, stderr, ended,
    resize(cols, rows) {
      if (!sock.destroyed && cols > 0 && rows > 0) sock.write(frame(KIND_RESIZE, Buffer.from(`${cols} ${rows}`)));
    },
    detach() {
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    },
  };
}
