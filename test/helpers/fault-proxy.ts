// A fault-injecting HTTP proxy in front of a real registry: the faults a pull must
// survive that a healthy local registry never produces on its own — a connection cut
// mid-blob, 503 answers, a redirect of blob downloads to another host. Everything else
// is forwarded as is (the registry's own answers, Range support included), and every
// request is recorded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Faults {
  /** Cut the connection of this many blob responses larger than `cutAfter` bytes, after `cutAfter` bytes. */
  cuts?: number;
  cutAfter?: number;
  /** Answer this many manifest requests with 503 first. */
  manifest503?: number;
  /**
   * Answer manifest GETs with this body instead (a hostile or broken registry: e.g. one
   * over the 4 MiB a real registry accepts, or one that differs from its digest header).
   */
  manifestBody?: { body: Buffer; headers: Record<string, string> };
  /** Redirect blob GETs to this base URL (`<base>/<repo path>/blobs/<digest>`). */
  redirectBlobsTo?: string;
}

export interface Seen {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
  status?: number;
}

export class FaultProxy {
  readonly seen: Seen[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  address = '';

  constructor(
    private readonly upstream: string,
    public faults: Faults = {},
  ) {}

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  blobGets(): Seen[] {
    return this.seen.filter((s) => s.method === 'GET' && s.url.includes('/blobs/'));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const seen: Seen = { method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization };
    this.seen.push(seen);
    const f = this.faults;
    if (req.url!.includes('/manifests/') && (f.manifest503 ?? 0) > 0) {
      f.manifest503!--;
      seen.status = 503;
      res.writeHead(503).end('injected 503');
      return;
    }
    if (f.manifestBody && req.url!.includes('/manifests/')) {
      seen.status = 200;
      res.writeHead(200, { 'content-length': f.manifestBody.body.length, ...f.manifestBody.headers }).end(f.manifestBody.body);
      return;
    }
    if (f.redirectBlobsTo && req.method === 'GET' && req.url!.includes('/blobs/')) {
      seen.status = 307;
      res.writeHead(307, { location: `${f.redirectBlobsTo}${req.url}` }).end();
      return;
    }
    const headers = { ...req.headers, host: this.upstream };
    const up = http.request({ host: this.upstream.split(':')[0], port: Number(this.upstream.split(':')[1]), method: req.method, path: req.url, headers }, (ur) => {
      seen.status = ur.statusCode;
      res.writeHead(ur.statusCode!, ur.headers);
      const len = Number(ur.headers['content-length'] ?? 0);
      const cut = req.url!.includes('/blobs/') && (f.cuts ?? 0) > 0 && len > (f.cutAfter ?? 0);
      if (!cut) {
        ur.pipe(res);
        return;
      }
      f.cuts!--;
      let sent = 0;
      ur.on('data', (chunk: Buffer) => {
        const room = f.cutAfter! - sent;
        if (room <= 0) return;
        const part = chunk.subarray(0, room);
        sent += part.length;
        if (sent < f.cutAfter!) {
          res.write(part);
          return;
        }
        // The fault: the connection drops mid-body, once these bytes are out.
        ur.destroy();
        res.write(part, () => res.socket?.destroy());
      });
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  }
}
