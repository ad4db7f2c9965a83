// One registry conversation (an endpoint and a repository): every request goes through
// `get`, which adds auth (answering a 401's `WWW-Authenticate` challenge once), follows
// redirects itself so that credentials never go to another host (blob downloads
// redirect to storage hosts), retries with backoff on 5xx, 429 and dropped connections,
// and aborts a request that makes no progress for `timeoutMs`. Registry requests go
// through the native HTTP client (`httpGet`), as blob downloads do, so both share one
// TLS trust: the system roots plus certs.d/<host>/*.crt, or none checked for an
// `insecure` registry — which is tried over TLS first and over plain HTTP if it does
// not speak TLS (as the containers tools and Docker do) — and offer the same client
// certificates (certs.d/<host>/<name>.cert + .key) to a registry that asks for one.
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, notFound, precondition, unavailable } from '../errors.js';
import { native } from '../native/index.js';
import { basic, type Challenge, type Credentials, parseChallenge } from './auth.js';
import { certsDirTls, type RegistryTls } from './certs-d.js';
import { type TokenResponse, tokenRequest } from './token-http.js';
import type { Endpoint } from './registries-conf.js';

export interface Source extends Endpoint {
  repository: string;
}

/** Attempts per request (first try included) on 5xx, 429 and network errors. */
const ATTEMPTS = 4;
const BACKOFF_MS = 250;
const MAX_REDIRECTS = 5;
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Bodies of registry documents are read up to this (manifests are bounded at 4 MiB). */
const MAX_DOCUMENT = 4 * 1024 * 1024;
/** How long the scheme found for an insecure registry is trusted before probing again. */
const SCHEME_TTL_MS = 5 * 60_000;

/** http or https for each insecure registry host, as the last probe found. */
const schemes = new Map<string, { scheme: 'http' | 'https'; until: number }>();

/** A request that got no HTTP response: `kind` tls, network or invalid. */
export class NoResponse extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

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
  /** certs.d/<host>/: CAs trusted for this registry and client certificates for it. */
  readonly tls: RegistryTls;
  private authHeader: string | undefined;
  private scheme: 'http' | 'https' | undefined;

  constructor(
    readonly src: Source,
    private readonly creds: Credentials | undefined,
    readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    certsDirs: string[] = [],
  ) {
    this.host = registryHost(src);
    this.tls = certsDirTls(this.host, certsDirs);
    if (!src.insecure) this.scheme = 'https';
    // A registry token is sent as is, from the first request.
    if (creds?.registryToken) this.authHeader = `Bearer ${creds.registryToken}`;
  }

  private base(): string {
    const prefix = this.src.location === 'docker.io' ? '' : this.src.location.replace(/^[^/]*/, '');
    return `${this.scheme ?? 'https'}://${this.host}${prefix}/v2/${this.src.repository}`;
  }

  /** One GET through the native client; a missing response is a NoResponse. */
  private async request(url: string, headers: Record<string, string>): Promise<Response> {
    const { authorization, ...rest } = headers;
    const r = await native.httpGet({
      url,
      authorization,
      headers: Object.entries(rest).map(([name, value]) => ({ name, value })),
      insecure: this.src.insecure,
      caPem: this.tls.caPem,
      clientCerts: this.tls.clientCerts,
      idleTimeoutMs: this.timeoutMs,
      maxBytes: MAX_DOCUMENT,
    });
    if (r.failure) throw new NoResponse(r.failure.kind, r.failure.message);
    const empty = r.status === 204 || r.status === 304 || r.status < 200;
    return new Response(empty ? null : r.body, { status: r.status, headers: r.headers.map((h) => [h.name, h.value] as [string, string]) });
  }

  /** What to do about a TLS failure: the server refused us, or we refused the server. */
  tlsHint(message: string): string {
    // rustls names the alert the registry sent; these say it wanted (another) client certificate.
    if (/received fatal alert: (CertificateRequired|BadCertificate|UnknownCA|CertificateUnknown|AccessDenied)/.test(message)) {
      const offered = this.tls.clientCerts.map((c) => c.source);
      return offered.length
        ? `the registry refused the client certificate ${offered.join(', ')}`
        : `the registry wants a client certificate: put <name>.cert and <name>.key in certs.d/${this.host}/`;
    }
    return `trust its CA in certs.d/${this.host}/ca.crt, or mark the registry insecure`;
  }

  /**
   * An insecure registry may speak TLS (unverified) or plain HTTP: ask /v2/ over TLS
   * once, and use plain HTTP if no TLS answer comes. Remembered per host for a while.
   */
  private async pickScheme(): Promise<void> {
    if (this.scheme) return;
    const known = schemes.get(this.host);
    if (known && known.until > Date.now()) {
      this.scheme = known.scheme;
      return;
    }
    let scheme: 'http' | 'https' = 'https';
    try {
      await this.request(`https://${this.host}/v2/`, {});
    } catch (e) {
      if (!(e instanceof NoResponse) || e.kind === 'invalid') throw e;
      scheme = 'http';
    }
    schemes.set(this.host, { scheme, until: Date.now() + SCHEME_TTL_MS });
    this.scheme = scheme;
  }

  /**
   * What the native downloader needs to GET a blob itself: its URL and the
   * Authorization header this session holds (sent to the registry's host only).
   */
  async blobRequest(digest: string): Promise<{ url: string; authorization?: string }> {
    await this.pickScheme();
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
    await this.pickScheme();
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(BACKOFF_MS * 2 ** (attempt - 2) * (0.75 + Math.random() / 2));
      const watch = new Watchdog(this.timeoutMs);
      let res: Response;
      try {
        res = await this.once(`${this.base()}${path}`, headers, watch);
      } catch (e) {
        watch.done();
        if (e instanceof BerthError) throw e;
        // An untrusted certificate is configuration, not a blip: no retries.
        if (e instanceof NoResponse && e.kind === 'tls') throw precondition(`${what}: ${e.message} (${this.tlsHint(e.message)})`);
        if (e instanceof NoResponse && e.kind === 'invalid') throw precondition(`${what}: ${e.message}`);
        if (e instanceof NoResponse) {
          lastErr = unavailable(`${what}: ${e.message}`, e);
          continue;
        }
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
      // The native client follows redirects itself, keeping credentials to this host.
      const res = await this.request(url, headers);
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
    let res: TokenResponse;
    try {
      if (this.creds?.identityToken) {
        // OAuth2 refresh-token grant, as Docker does with an identity token.
        const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.creds.identityToken, service, scope, client_id: 'berth' }).toString();
        res = await tokenRequest(realm, { method: 'POST', body, signal: watch.controller.signal, tls: this.tls });
      } else {
        realm.searchParams.set('service', service);
        realm.searchParams.set('scope', scope);
        const headers: Record<string, string> = {};
        if (this.creds?.username !== undefined) headers.authorization = basic(this.creds);
        res = await tokenRequest(realm, { method: 'GET', headers, signal: watch.controller.signal, tls: this.tls });
      }
    } catch (e) {
      throw unavailable(`token server ${realm.host} for ${this.host} unreachable: ${(e as Error).message}`, e);
    }
    if (res.status < 200 || res.status > 299) {
      throw new BerthError('Unauthenticated', `token server ${realm.host} for ${this.host} refused a token for ${scope} (${res.status})`);
    }
    let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      doc = JSON.parse(res.body) as typeof doc;
    } catch {
      throw new BerthError('Unauthenticated', `token server ${realm.host} for ${this.host} sent no JSON`);
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new BerthError('Unauthenticated', `token server ${realm.host} sent no token`);
    // The spec's default lifetime is 60 s; renew 10 s early.
    const issued = doc.issued_at ? Date.parse(doc.issued_at) || Date.now() : Date.now();
    const header = `Bearer ${token}`;
    tokens.set(key, { header, expires: issued + ((doc.expires_in ?? 60) - 10) * 1000 });
    return header;
  }
}
