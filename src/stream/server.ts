// berthd's streaming server: the URLs that Exec, Attach and PortForward hand out lead
// here. Plain HTTP on a loopback address by default (the kubelet or crictl on this node
// connects; the API server proxies through the kubelet). Each URL is /<kind>/<token>;
// the token is taken on first use, and an unknown, used or expired one is a 404 after
// which the connection closes (nothing pipelined behind it is read).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import type { PortConnection } from '../pod/port-connect.js';
import type { CommandProcess, ProtocolVersion } from './remote-command.js';
import type { AttachRequestInfo, ExecRequestInfo, PortForwardRequestInfo, RequestCache, StreamKind, StreamRequest } from './request-cache.js';
import { serveSpdyCommand } from './spdy-command.js';
import { serveSpdyPortForward } from './spdy-port-forward.js';
import { SpdySession } from './spdy-session.js';
import { serveWsCommand, wsCommandProtocols, wsPortForwardProtocols } from './websocket.js';
import { queryPorts, serveWsPortForward, wsNativePortForwardProtocols } from './ws-port-forward.js';

export interface StreamBackend {
  exec(r: ExecRequestInfo): Promise<CommandProcess>;
  attach(r: AttachRequestInfo): Promise<CommandProcess>;
  /** Throws when the pod cannot be reached any more. */
  portConnector(r: PortForwardRequestInfo): (port: number) => PortConnection;
}

/** SPDY sub-protocols for exec/attach, best first. */
export const commandProtocols: ProtocolVersion[] = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

const kinds = new Set<StreamKind>(['exec', 'attach', 'portforward']);

export function parsePath(url: string | undefined): { kind: StreamKind; token: string } | undefined {
  const m = /^\/([a-z]+)\/([A-Za-z0-9_-]{20,100})(?:\?.*)?$/.exec(url ?? '');
  if (!m || !kinds.has(m[1] as StreamKind)) return undefined;
  return { kind: m[1] as StreamKind, token: m[2]! };
}

/** The client's offered protocols (one header or several, comma-separated), in its order. */
export function offeredProtocols(h: string | string[] | undefined): string[] {
  const vals = Array.isArray(h) ? h : h ? [h] : [];
  return vals.flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
}

function refuse(socket: Duplex, code: number, reason: string, body: string, extra: string[] = []): void {
  const text = `${body}\n`;
  socket.end(
    [`HTTP/1.1 ${code} ${reason}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close', ...extra, '', text].join('\r\n'),
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class StreamServer {
  private readonly http: http.Server | https.Server;
  private readonly sockets = new Set<Duplex>();
  /**
   * The sub-protocol chosen for each WebSocket upgrade. We negotiate it ourselves and add
   * the response header: ws refuses `SPDY/3.1+portforward.k8s.io` (a '/' is no RFC 6455
   * token character) although it is what client-go's tunnelling dialer asks for.
   */
  private readonly chosen = new WeakMap<http.IncomingMessage, string>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 << 20 });
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
    this.wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
      const p = this.chosen.get(req);
      if (p) headers.push(`Sec-WebSocket-Protocol: ${p}`);
    });
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
    this.wss.close();
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
    if (upgrade === 'spdy/3.1') return this.spdy(req, socket, head, request);
    if (upgrade === 'websocket') return this.websocket(req, socket, head, request);
    refuse(socket, 400, 'Bad Request', `unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? '')}: SPDY/3.1 or websocket expected`);
  }

  private websocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, r: StreamRequest): void {
    const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
    const supported = r.kind === 'portforward' ? [...wsPortForwardProtocols, ...wsNativePortForwardProtocols] : wsCommandProtocols;
    const protocol = offered.find((p) => supported.includes(p));
    if (!protocol) {
      return refuse(socket, 400, 'Bad Request', `unable to upgrade: no supported WebSocket sub-protocol among ${JSON.stringify(offered)} (server accepts ${supported.join(', ')})`);
    }
    let connector: ((port: number) => PortConnection) | undefined;
    let ports: number[] | string = [];
    if (r.kind === 'portforward') {
      try {
        connector = this.backend.portConnector(r);
      } catch (e) {
        return refuse(socket, 404, 'Not Found', (e as Error).message);
      }
      if (wsNativePortForwardProtocols.includes(protocol)) ports = queryPorts(req.url, r.ports);
      if (typeof ports === 'string') return refuse(socket, 400, 'Bad Request', ports);
    }
    this.chosen.set(req, protocol);
    delete req.headers['sec-websocket-protocol'];
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const log = this.log.child({ stream: r.kind, protocol });
      if (r.kind === 'portforward' && typeof ports !== 'string' && ports.length > 0) return serveWsPortForward(ws, protocol, ports, connector!, log);
      if (r.kind === 'portforward') {
        const tunnel = createWebSocketStream(ws);
        tunnel.on('error', () => undefined);
        return serveSpdyPortForward(new SpdySession(tunnel, Buffer.alloc(0), log), r.ports, connector!, log);
      }
      const start = r.kind === 'exec' ? () => this.backend.exec(r) : () => this.backend.attach(r);
      serveWsCommand(ws, protocol, r, start, log);
    });
  }

  private spdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, r: StreamRequest): void {
    const offered = offeredProtocols(req.headers['x-stream-protocol-version']);
    const supported: string[] = r.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : commandProtocols;
    if (offered.length === 0) return refuse(socket, 400, 'Bad Request', 'unable to upgrade: X-Stream-Protocol-Version is missing');
    const version = offered.find((p) => supported.includes(p));
    if (!version) {
      return refuse(socket, 403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports ${offered.join(', ')}, server accepts ${supported.join(', ')}`,
        supported.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}`));
    }
    let connector: ((port: number) => PortConnection) | undefined;
    if (r.kind === 'portforward') {
      try {
        connector = this.backend.portConnector(r);
      } catch (e) {
        return refuse(socket, 404, 'Not Found', (e as Error).message);
      }
    }
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${version}`, '', ''].join('\r\n'));
    const log = this.log.child({ stream: r.kind, protocol: version });
    const session = new SpdySession(socket, head, log);
    if (r.kind === 'portforward') return serveSpdyPortForward(session, r.ports, connector!, log);
    const start = r.kind === 'exec' ? () => this.backend.exec(r) : () => this.backend.attach(r);
    serveSpdyCommand(session, version as ProtocolVersion, r, start, log);
  }
}
