// Registry credentials and the two auth schemes registries use: Basic, and the Bearer
// token flow driven by `WWW-Authenticate` (docker/distribution's token spec: a GET to
// the realm with service and scope, or an OAuth2 POST with a refresh token). Tokens are
// cached per realm/service/scope until shortly before they expire. Credentials come
// from the CRI AuthConfig of the request, else from an auth file in the
// containers-auth.json / Docker config.json format.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (Docker's `identitytoken`). */
  identityToken?: string;
  /** A bearer token to send as is. */
  registryToken?: string;
}

/** The CRI AuthConfig fields (runtime.v1). */
export interface CriAuth {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon > 0 ? { username: text.slice(0, colon), password: text.slice(colon + 1) } : undefined;
}

/** host[:port] of a server address as written in auth files ("https://index.docker.io/v1/", "host/ns"). */
function hostOf(addr: string): string {
  return addr.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '').replace(/^index\.docker\.io$/, 'docker.io');
}

/** Credentials from a CRI AuthConfig, or undefined when it has none. */
export function fromCri(a: CriAuth | undefined): (Credentials & { server?: string }) | undefined {
  if (!a) return undefined;
  const c: Credentials = {};
  if (a.username) Object.assign(c, { username: a.username, password: a.password ?? '' });
  else if (a.auth) Object.assign(c, decodeAuth(a.auth));
  if (a.identityToken) c.identityToken = a.identityToken;
  if (a.registryToken) c.registryToken = a.registryToken;
  if (!c.username && !c.identityToken && !c.registryToken) return undefined;
  return { ...c, server: a.serverAddress ? hostOf(a.serverAddress) : undefined };
}

/** Where the containers tools and Docker look for an auth file, first existing wins. */
export function authFileCandidates(env = process.env): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const out: string[] = [];
  if (env.XDG_RUNTIME_DIR) out.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(`/run/containers/${process.getuid?.() ?? 0}/auth.json`);
  out.push(path.join(env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json'));
  return out;
}

/**
 * Credentials for `host` and `repository` from an auth file: the most specific key wins
 * ("host/ns/repo", then "host/ns", then "host"), as containers-auth.json(5) says.
 */
export function fromAuthFile(host: string, repository: string, files = authFileCandidates()): Credentials | undefined {
  for (const file of files) {
    let doc: { auths?: Record<string, { auth?: string; identitytoken?: string }> };
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      continue; // Missing or unreadable: the next candidate (an unreadable file is no credential).
    }
    const auths = doc.auths ?? {};
    const byKey = new Map<string, { auth?: string; identitytoken?: string }>();
    for (const [k, v] of Object.entries(auths)) {
      const key = k.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '').replace(/^index\.docker\.io\/v1$/, 'docker.io');
      byKey.set(key, v);
    }
    const parts = repository.split('/');
    for (let i = parts.length; i >= 0; i--) {
      const e = byKey.get([host, ...parts.slice(0, i)].join('/'));
      if (!e) continue;
      const c: Credentials = { ...(e.auth ? decodeAuth(e.auth) : {}) };
      if (e.identitytoken) c.identityToken = e.identitytoken;
      return c;
    }
    return undefined;
  }
  return undefined;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (one challenge). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}
