// Port-forward over SPDY (`portforward.k8s.io`): for each forwarded connection the
// client opens a pair of streams, `streamtype: error` and `streamtype: data`, carrying
// the same `port` and `requestid` headers. Once both are there we connect into the pod
// and relay; a failure is written as text on the error stream, which then ends.
import { finished } from 'node:stream/promises';
import type { Logger } from '../log.js';
import type { PortConnection } from '../pod/port-connect.js';
import { RstStatus } from './spdy-frames.js';
import type { SpdySession, SpdyStream } from './spdy-session.js';

export type Connect = (port: number) => PortConnection;

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  port: number;
}

/** Pairs whose partner never comes are dropped after this long (the kubelet's stream creation timeout). */
const PAIR_TIMEOUT_MS = 30_000;

export function serveSpdyPortForward(session: SpdySession, allowedPorts: number[], connect: Connect, log: Logger): void {
  const pending = new Map<string, Pair>();
  const live = new Set<PortConnection>();
  session.on('close', () => {
    for (const c of live) c.close();
    live.clear();
  });
  session.on('stream', (s: SpdyStream) => {
    const type = s.headers.get('streamtype');
    const port = Number(s.headers.get('port'));
    const requestId = s.headers.get('requestid') ?? s.headers.get('port') ?? '';
    if ((type !== 'data' && type !== 'error') || !Number.isInteger(port) || port < 1 || port > 65535) {
      log.debug({ type, port: s.headers.get('port') }, 'refusing a port-forward stream with bad headers');
      s.reset(RstStatus.ProtocolError);
      return;
    }
    let pair = pending.get(requestId);
    if (!pair) {
      pair = { port };
      pending.set(requestId, pair);
      const p = pair;
      setTimeout(() => {
        if (pending.get(requestId) !== p) return;
        pending.delete(requestId);
        p.data?.reset();
        p.error?.reset();
      }, PAIR_TIMEOUT_MS).unref();
    }
    if (pair[type] || pair.port !== port) {
      s.reset(RstStatus.ProtocolError);
      return;
    }
    s.reply();
    s.on('error', () => undefined);
    pair[type] = s;
    if (!pair.data || !pair.error) return;
    pending.delete(requestId);
    void relay(pair.data, pair.error, port, allowedPorts, connect, live, log);
  });
}

async function relay(data: SpdyStream, error: SpdyStream, port: number, allowed: number[], connect: Connect, live: Set<PortConnection>, log: Logger): Promise<void> {
  error.resume();
  if (allowed.length > 0 && !allowed.includes(port)) {
    data.end();
    error.end(`port ${port} is not among the ports this port-forward was granted`);
    return;
  }
  const c = connect(port);
  live.add(c);
  data.pipe(c.input);
  c.output.pipe(data);
  data.on('close', () => c.close());
  const why = await c.done;
  live.delete(c);
  if (why) log.info({ port, err: why }, 'port-forward connection failed');
  await finished(data, { readable: false }).catch(() => undefined);
  if (!error.destroyed) error.end(why ? `error forwarding port ${port} into the pod: ${why}` : undefined);
}
