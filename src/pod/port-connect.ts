// One port-forward connection into a pod: a TCP connection to localhost:port as seen
// from inside the pod's network namespace. berthd itself never enters a namespace (its
// threads are shared by everything): a `berth-monitor port-forward` helper process joins
// it, connects, and relays through its stdin/stdout. A host-network pod's localhost is
// the host's, so berthd connects directly.
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { monitorPath } from '../native/index.js';
import type { PodRecord } from './pod.js';

export interface PortConnection {
  /** Bytes for the pod's port. */
  input: Writable;
  /** Bytes from it; ends when the pod side is done. */
  output: Readable;
  /** Resolves once the connection is over: undefined, or why it failed. */
  done: Promise<string | undefined>;
  close(): void;
}

export function connectInPod(pod: PodRecord, port: number): PortConnection {
  if (pod.hostNetwork || !pod.namespaces.network) return connectLocal(port);
  const child = spawn(monitorPath(), ['port-forward', '--netns', pod.namespaces.network, '--port', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 4096) err += d.toString();
  });
  const done = new Promise<string | undefined>((resolve) => {
    child.on('error', (e) => resolve(`port-forward helper: ${e.message}`));
    child.on('close', (code) => resolve(code === 0 ? undefined : err.trim() || `port-forward helper exited with ${code}`));
  });
  return { input: child.stdin, output: child.stdout, done, close: () => child.kill('SIGKILL') };
}

function connectLocal(port: number): PortConnection {
  const sock = net.connect({ host: '127.0.0.1', port });
  let failure: string | undefined;
  sock.on('error', (e) => (failure = `failed to connect to localhost:${port}: ${e.message}`));
  const done = new Promise<string | undefined>((resolve) => sock.on('close', () => resolve(failure)));
  return { input: sock, output: sock, done, close: () => sock.destroy() };
}
