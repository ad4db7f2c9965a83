// The streaming sessions behind berthd's streaming server (server.ts), loaded on the first
// upgrade: SPDY/3.1 (kubectl and crictl before 1.36, the kubelet's proxy) and WebSocket
// (KEP-4006) for exec and attach; SPDY, SPDY tunnelled in WebSocket, and the kubelet's
// WebSocket protocol for port-forward. The token was taken and the kind checked already.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import type { PortConnection } from '../pod/port-connect.js';
import type { ProtocolVersion } from './remote-command.js';
import type { StreamRequest } from './request-cache.js';
import { commandProtocols, offeredProtocols, PORT_FORWARD_PROTOCOL, refuse, type StreamBackend } from './protocols.js';
import { serveSpdyCommand } from './spdy-command.js';
import { serveSpdyPortForward } from './spdy-port-forward.js';
import { SpdySession } from './spdy-session.js';
import { serveWsCommand, wsCommandProtocols, wsPortForwardProtocols } from './websocket.js';
import { queryPorts, serveWsPortForward, wsNativePortForwardProtocols } from './ws-port-forward.js';

export class Upgrader {
  /**
   * The sub-protocol chosen for each WebSocket upgrade. We negotiate it ourselves and add
   * the response header: ws refuses `SPDY/3.1+portforward.k8s.io` (a '/' is no RFC 6455
   * token character) although it is what client-go's tunnelling dialer asks for.
   */
  private readonly chosen = new WeakMap<http.IncomingMessage, string>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 << 20 });

  constructor(
    private readonly backend: StreamBackend,
    private readonly log: Logger,
  ) {
    this.wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
      const p = this.chosen.get(req);
      if (p) headers.push(`Sec-WebSocket-Protocol: ${p}`);
    });
  }

  close(): void {
    this.wss.close();
  }

  websocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, r: StreamRequest): void {
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

  spdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, r: StreamRequest): void {
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
