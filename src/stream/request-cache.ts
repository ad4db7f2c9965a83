// Pending streaming requests by token, as the kubelet's streaming cache keeps them: an
// Exec/Attach/PortForward RPC stores what it validated and hands out a URL holding an
// unguessable token; the first request that presents the token takes it (single use),
// and a token not taken within the TTL is forgotten. A bounded number are pending at a
// time, so a caller spamming the RPCs cannot grow berthd without limit.
import { randomBytes } from 'node:crypto';
import { unavailable } from '../errors.js';

export type StreamKind = 'exec' | 'attach' | 'portforward';

export interface ExecRequestInfo {
  kind: 'exec';
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachRequestInfo {
  kind: 'attach';
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface PortForwardRequestInfo {
  kind: 'portforward';
  podId: string;
  ports: number[];
}

export type StreamRequest = ExecRequestInfo | AttachRequestInfo | PortForwardRequestInfo;

export const TOKEN_TTL_MS = 60_000;
export const MAX_PENDING = 1000;

export class RequestCache {
  private readonly pending = new Map<string, { req: StreamRequest; expires: number }>();

  constructor(private readonly ttlMs = TOKEN_TTL_MS, private readonly now: () => number = Date.now) {}

  /** Stores the request; returns its token (URL-safe, 256 random bits). */
  insert(req: StreamRequest): string {
    this.sweep();
    if (this.pending.size >= MAX_PENDING) throw unavailable(`too many pending streaming requests (${MAX_PENDING}); try again later`);
    const token = randomBytes(32).toString('base64url');
    this.pending.set(token, { req, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request for `token`, removed (single use); undefined when unknown, used or expired. */
  consume(token: string, kind: StreamKind): StreamRequest | undefined {
    const e = this.pending.get(token);
    if (!e) return undefined;
    this.pending.delete(token);
    if (e.expires <= this.now() || e.req.kind !== kind) return undefined;
    return e.req;
  }

  get size(): number {
    this.sweep();
    return this.pending.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.pending) if (e.expires <= t) this.pending.delete(k);
  }
}
