// What the streaming server's front (server.ts) and its sessions (upgrade.ts) share: the
// backend they run against, the sub-protocols, and how a request is refused.
import type { Duplex } from 'node:stream';
import type { PortConnection } from '../pod/port-connect.js';
import type { CommandProcess, ProtocolVersion } from './remote-command.js';
import type { AttachRequestInfo, ExecRequestInfo, PortForwardRequestInfo } from './request-cache.js';

export interface StreamBackend {
  exec(r: ExecRequestInfo): Promise<CommandProcess>;
  attach(r: AttachRequestInfo): Promise<CommandProcess>;
  /** Throws when the pod cannot be reached any more. */
  portConnector(r: PortForwardRequestInfo): (port: number) => PortConnection;
}

/** SPDY sub-protocols for exec/attach, best first. */
export const commandProtocols: ProtocolVersion[] = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** The client's offered protocols (one header or several, comma-separated), in its order. */
export function offeredProtocols(h: string | string[] | undefined): string[] {
  const vals = Array.isArray(h) ? h : h ? [h] : [];
  return vals.flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
}

/** Answers an upgrade with an HTTP error and closes the connection (nothing after it is read). */
export function refuse(socket: Duplex, code: number, reason: string, body: string, extra: string[] = []): void {
  const text = `${body}\n`;
  socket.end(
    [`HTTP/1.1 ${code} ${reason}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close', ...extra, '', text].join('\r\n'),
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}
