// One registry conversation (an endpoint and a repository): every request goes through
// `get`, which adds auth (answering a 401's `WWW-Authenticate` challenge once), follows
// redirects itself so that credentials never go to another host (blob downloads
// redirect to storage hosts), retries with backoff on 5xx, 429 and dropped connections,
// and aborts a request that makes no progress for `timeoutMs`.
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, notFound, precondition, unavailable } from '../errors.js';
import { basic, type Challenge, type Credentials, parseChallenge } from './auth.js';
import type { Endpoint } from './registries-conf.js';

export interface Source extends Endpoint {
  repository: string;
}

/** Attempts per request (first try included) on 5xx, 429 and network errors. */
const ATTEMPTS = 4;
const BACKOFF_MS = 250;
const MAX_REDIRECTS = 5;
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Bearer tokens by realm/service/scope/user, shared by all sessions of the daemon. */
const tokens = new Map<string, { header: string; expires: number }>();

/**
 * Aborts a request when nothing arrived for `ms`; `touch` on progress. `hold` while the
 * consumer is busy (a slow disk makes the download wait: that is backpressure, not a
 * stalled registry).
 */
export class Watchdog {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout;
  private held = false;
  constructor(ms: number) {
    this.timer = setTimeout(() => {
      if (this.held) this.timer.refresh();
      else this.controller.abort(new Error(`no progress for ${ms} ms`));
    }, ms);
  }
  hold(): void {
    this.held = true;
  }
  touch(): void {
    this.held = false;
    this.timer.refresh();
  }
  done(): void {
    clearTimeout(this.timer);
  }
}

export function registryHost(src: Endpoint): string {
  return src.location === 'docker.io' ? 'registry-1.docker.io' : src.location.replace(/\/.*$/, '');
}

export class Session {
  readonly host: string;
  /** Extra CA certificates (PEM) trusted for this registry (certs.d/<host>/*.crt). */
  caPem: string[] = [];
  private authHeader: string | undefined;

  constructor(
    readonly src: Source,
    private readonly creds: Credentials | undefined,
    readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.host = registryHost(src);
    // A registry token is sent as is, from the first request.
    if (creds?.registryToken) this.authHeader = `Bearer ${creds.registryToken}`;
  }

  private base(): string {
    const prefix = this.src.location === 'docker.io' ? '' : this.src.location.replace(/^[^/]*/, '');
    return `${this.src.insecure ? 'http' : 'https'}://${this.host}${prefix}/v2/${this.src.repository}`;
  }

  /**
   * What the native downloader needs to GET a blob itself: its URL and the
   * Authorization header this session holds (sent to the registry's host only).
   */
  blobRequest(digest: string): { url: string; authorization?: string } {
    return { url: `${this.base()}/blobs/${digest}`, authorization: this.authHeader };
  }

  /**
   * Answers a challenge the native downloader met (a 401's WWW-Authenticate: no token
   * yet, or it expired mid-pull); true if there is now a header worth retrying with.
   */
  async reauthorize(wwwAuthenticate: string | undefined): Promise<boolean> {
    const challenge = parseChallenge(wwwAuthenticate ?? null);
    if (!challenge) return false;
    const watch = new Watchdog(this.timeoutMs);
    try {
      const header = await this.answer(challenge, watch, true);
      if (!header || header === this.authHeader) return false;
      this.authHeader = header;
      return true;
    } finally {
      watch.done();
    }
  }

  /**
   * GETs `path` (relative to /v2/<repo>) and returns a 2xx response, its watchdog still
   * running (the caller reads the body and calls `done`). Errors name `what` and the host.
   */
  async get(path: string, what: string, headers: Record<string, string> = {}): Promise<{ res: Response; watch: Watchdog }> {
    let lastErr: BerthError | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(BACKOFF_MS * 2 ** (attempt - 2) * (0.75 + Math.random() / 2));
      const watch = new Watchdog(this.timeoutMs);
      let res: Response;
      try {
        res = await this.once(`${this.base()}${path}`, headers, watch);
      } catch (e) {
        watch.done();
        if (e instanceof BerthError) throw e;
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        lastErr = unavailable(`${what}: registry ${this.host} unreachable: ${cause?.code ?? cause?.message ?? (e as Error).message}`, e);
        continue;
      }
      if (res.ok) return { res, watch };
      watch.done();
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 500 || res.status === 429) {
        lastErr = unavailable(`${what}: ${this.host} answered ${res.status}`);
        continue;
      }
      if (res.status === 404) throw notFound(`${what}: not found at ${this.host}`);
      if (res.status === 401 || res.status === 403) {
        const who = this.creds?.username ? `as ${this.creds.username}` : this.creds ? 'with the given token' : 'anonymously';
        throw new BerthError('Unauthenticated', `${what}: ${this.host} refused access ${who} (${res.status})`);
      }
      throw precondition(`${what}: ${this.host} answered ${res.status}`);
    }
    throw lastErr!;
  }

  /** One request: auth (one challenge round), redirects followed by hand. */
  private async once(url: string, extra: Record<string, string>, watch: Watchdog): Promise<Response> {
    let challenged = false;
    for (let hops = 0; hops <= MAX_REDIRECTS; ) {
      const target = new URL(url);
      const ours = target.host === this.host;
      const headers: Record<string, string> = { ...extra };
      // Credentials only ever go to the registry's own host.
      if (ours && this.authHeader) headers.authorization = this.authHeader;
      const res = await fetch(url, { headers, redirect: 'manual', signal: watch.controller.signal });
      if (res.status === 401 && ours && !challenged) {
        const challenge = parseChallenge(res.headers.get('www-authenticate'));
        await res.body?.cancel().catch(() => undefined);
        if (!challenge) return res;
        challenged = true;
        const header = await this.answer(challenge, watch);
        if (!header) return res;
        this.authHeader = header;
        continue;
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => undefined);
        url = new URL(location, url).toString();
        hops++;
        continue;
      }
      return res;
    }
    throw unavailable(`${this.host}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** The Authorization header that answers `c`, or undefined if we cannot. */
  private async answer(c: Challenge, watch: Watchdog, fresh = false): Promise<string | undefined> {
    if (c.scheme === 'basic') return this.creds?.username !== undefined ? basic(this.creds) : undefined;
    if (c.scheme !== 'bearer' || !c.params.realm) return undefined;
    const service = c.params.service ?? '';
    const scope = c.params.scope ?? `repository:${this.src.repository}:pull`;
    const key = [c.params.realm, service, scope, this.creds?.username ?? '', this.creds?.identityToken ? 'idt' : ''].join('|');
    const cached = tokens.get(key);
    // `fresh`: the cached token was just refused, so fetch another.
    if (cached && cached.expires > Date.now() && !fresh) return cached.header;
    const realm = new URL(c.params.realm);
    let res: Response;
    try {
      if (this.creds?.identityToken) {
        // OAuth2 refresh-token grant, as Docker does with an identity token.
        const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.creds.identityToken, service, scope, client_id: 'berth' });
        res = await fetch(realm, { method: 'POST', body, signal: watch.controller.signal });
      } else {
        realm.searchParams.set('service', service);
        realm.searchParams.set('scope', scope);
        const headers: Record<string, string> = {};
        if (this.creds?.username !== undefined) headers.authorization = basic(this.creds);
        res = await fetch(realm, { headers, signal: watch.controller.signal });
      }
    } catch (e) {
      throw unavailable(`token server ${realm.host} for ${this.host} unreachable: ${(e as Error).message}`, e);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new BerthError('Unauthenticated', `token server ${realm.host} for ${this.host} refused a token for ${scope} (${res.status})`);
    }
    const doc = (await res.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const token = doc.token ?? doc.access_token;
    if (!token) throw new BerthError('Unauthenticated', `token server ${realm.host} sent no token`);
    // The spec's default lifetime is 60 s; renew 10 s early.
    const issued = doc.issued_at ? Date.parse(doc.issued_at) || Date.now() : Date.now();
    const header = `Bearer ${token}`;
    tokens.set(key, { header, expires: issued + ((doc.expires_in ?? 60) - 10) * 1000 });
    return header;
  }
}
