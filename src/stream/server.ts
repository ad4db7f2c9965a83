// berthd's streaming server: the URLs that Exec, Attach and PortForward hand out lead
// here. Plain HTTP on a loopback address by default (the kubelet or crictl on this node
// connects; the API server proxies through the kubelet). Each URL is /<kind>/<token>;
// the token is taken on first use, and an unknown, used or expired one is a 404 after
// which the connection closes (nothing pipelined behind it is read).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { refuse, type StreamBackend } from './protocols.js';
import type { RequestCache, StreamKind } from './request-cache.js';
import type { Upgrader } from './upgrade.js';

const kinds = new Set<StreamKind>(['exec', 'attach', 'portforward']);

export function parsePath(url: string | undefined): { kind: StreamKind; token: string } | undefined {
  const m = /^\/([a-z]+)\/([A-Za-z0-9_-]{20,100})(?:\?.*)?$/.exec(url ?? '');
  if (!m || !kinds.has(m[1] as StreamKind)) return undefined;
  return { kind: m[1] as StreamKind, token: m[2]! };
}

export class StreamServer {
  private readonly http: http.Server | https.Server;
  private readonly sockets = new Set<Duplex>();
  /**
   * The SPDY and WebSocket sessions (upgrade.ts, with ws and the SPDY code), loaded on the
   * first streaming request: most nodes rarely exec, and they are megabytes of berthd's heap.
   */
  private upgrader: Promise<Upgrader> | undefined;
  private baseUrl = '';

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly cache: RequestCache,
    private readonly backend: StreamBackend,
    private readonly log: Logger,
    /** PEM certificate and key for HTTPS; plain HTTP without. */
    private readonly tls?: { cert: Buffer; key: Buffer },
  ) {
    const opts = { requestTimeout: 30_000, headersTimeout: 30_000 };
    this.http = (tls ? https.createServer({ ...opts, ...tls }, (req, res) => this.plain(req, res)) : http.createServer(opts, (req, res) => this.plain(req, res)));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.http.on('clientError', (_e, socket: Duplex) => refuse(socket, 400, 'Bad Request', 'malformed request'));
  }

  private plain(req: http.IncomingMessage, res: http.ServerResponse): void {
    // A plain request (no upgrade) never takes the token.
    const known = parsePath(req.url);
    res.writeHead(known ? 400 : 404, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    res.end(known ? 'streaming requests must upgrade (SPDY/3.1 or WebSocket)\n' : 'not found\n');
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.port, this.address, () => resolve());
    });
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.baseUrl = `${this.tls ? 'https' : 'http'}://${host}:${a.port}`;
    this.log.info({ url: this.baseUrl }, 'streaming server listening');
  }

  url(kind: StreamKind, token: string): string {
    return `${this.baseUrl}/${kind}/${token}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    (await this.upgrader?.catch(() => undefined))?.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const where = parsePath(req.url);
    const request = where ? this.cache.consume(where.token, where.kind) : undefined;
    if (!where || !request) return refuse(socket, 404, 'Not Found', 'unknown or expired streaming token');
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade !== 'spdy/3.1' && upgrade !== 'websocket') {
      return refuse(socket, 400, 'Bad Request', `unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? '')}: SPDY/3.1 or websocket expected`);
    }
    // Until a session reads it, what the client sends next stays buffered in the socket.
    this.upgrader ??= import('./upgrade.js').then((m) => new m.Upgrader(this.backend, this.log));
    this.upgrader.then(
      (u) => (upgrade === 'spdy/3.1' ? u.spdy(req, socket, head, request) : u.websocket(req, socket, head, request)),
      (e: Error) => refuse(socket, 500, 'Internal Server Error', `streaming unavailable: ${e.message}`),
    );
  }
}
