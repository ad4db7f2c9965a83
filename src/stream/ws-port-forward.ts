// Port-forward in the kubelet's own WebSocket protocol (browsers and older clients;
// crictl and the API server tunnel SPDY instead): the ports come in the URL query
// (`?port=80&port=443`) or from the PortForward request; port i gets channel 2i for data
// and 2i+1 for errors, each opened by a message carrying the port as 2 little-endian
// bytes. One connection per port; the session ends when all of them have.
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { PortConnection } from '../pod/port-connect.js';

export const wsNativePortForwardProtocols = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** Ports from `?port=…` (repeated or comma-separated), else the ones the RPC granted. */
export function queryPorts(url: string | undefined, granted: number[]): number[] | string {
  const q = new URL(url ?? '/', 'http://x').searchParams.getAll('port').flatMap((p) => p.split(','));
  if (q.length === 0) return granted.length ? granted : 'query parameter "port" is required';
  const ports = q.map(Number);
  const bad = ports.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
  if (bad !== undefined) return `port ${bad} is not a TCP port`;
  const notGranted = ports.find((p) => granted.length > 0 && !granted.includes(p));
  if (notGranted !== undefined) return `port ${notGranted} is not among the ports this port-forward was granted`;
  return ports;
}

export function serveWsPortForward(ws: WebSocket, protocol: string, ports: number[], connect: (port: number) => PortConnection, log: Logger): void {
  const base64 = protocol.includes('base64');
  const send = (channel: number, data: Buffer, cb?: () => void) => {
    if (ws.readyState !== ws.OPEN) return cb?.();
    ws.send(base64 ? String.fromCharCode(48 + channel) + data.toString('base64') : Buffer.concat([Buffer.from([channel]), data]), { binary: !base64 }, () => cb?.());
  };
  const conns = ports.map((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
    const c = connect(port);
    c.output.on('data', (d: Buffer) => {
      // A client that does not read stalls the pod side, not our memory.
      if (ws.bufferedAmount > 1 << 20) {
        c.output.pause();
        send(2 * i, d, () => c.output.resume());
      } else send(2 * i, d);
    });
    const done = c.done.then((why) => {
      if (why) {
        log.info({ port, err: why }, 'port-forward connection failed');
        send(2 * i + 1, Buffer.from(`error forwarding port ${port} into the pod: ${why}`));
      }
    });
    return { c, done };
  });
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    if (raw.length === 0) return;
    let channel = raw[0]!;
    let data = raw.subarray(1);
    if (base64 || !isBinary) {
      channel -= 48;
      data = Buffer.from(data.toString(), 'base64');
    }
    const target = channel % 2 === 0 ? conns[channel / 2] : undefined;
    if (!target || data.length === 0) return;
    if (!target.c.input.write(data)) {
      ws.pause();
      target.c.input.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => {
    for (const { c } of conns) c.close();
  });
  ws.on('error', (e) => log.debug({ err: e.message }, 'websocket error'));
  void Promise.all(conns.map((x) => x.done)).then(() => ws.close(1000));
}
