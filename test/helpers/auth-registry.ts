// A docker-registry of the test's own (never the shared one on :5100), on a free
// loopback port, with its own storage, and either htpasswd (Basic) auth — the bcrypt
// hash comes from the C library's crypt(3) (libxcrypt) through python3's crypt module —
// or `token` auth trusting a small token server of the test's own (docker/distribution's
// token spec: RS256 JWTs whose x5c certificate is in the registry's root bundle).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { freePort } from './free-port.js';
import os from 'node:os';
import path from 'node:path';

export interface AuthRegistry {
  address: string;
  dir: string;
  stop(): Promise<void>;
}

function bcrypt(password: string): string {
  const py = 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))';
  const h = execFileSync('python3', ['-W', 'ignore', '-c', py, password], { encoding: 'utf8' }).trim();
  if (!h.startsWith('$2')) throw new Error(`crypt(3) did not produce a bcrypt hash: ${h}`);
  return h;
}

async function serve(dir: string, auth: string): Promise<{ address: string; proc: ChildProcess }> {
  const address = `127.0.0.1:${await freePort()}`;
  writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: ${dir}/data } }
http: { addr: ${address}, secret: berth-test }
auth: ${auth}
`,
  );
  const proc: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${address}/v2/`).then(
      (r) => r.status === 401,
      () => false,
    );
    if (ok) break;
    if (i > 100 || proc.exitCode !== null) throw new Error(`docker-registry did not come up on ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address, proc };
}

function stopper(proc: ChildProcess, dir: string, extra?: () => Promise<void>): () => Promise<void> {
  return async () => {
    await extra?.();
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

export async function startHtpasswdRegistry(users: Record<string, string>): Promise<AuthRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-authreg-'));
  writeFileSync(path.join(dir, 'htpasswd'), Object.entries(users).map(([u, p]) => `${u}:${bcrypt(p)}\n`).join(''));
  const { address, proc } = await serve(dir, `{ htpasswd: { realm: berth-test, path: ${dir}/htpasswd } }`);
  return { address, dir, stop: stopper(proc, dir) };
}

export interface TokenRegistry extends AuthRegistry {
  /** Token requests the token server got: query, and the Basic user if any. */
  requests: Array<{ service: string | null; scope: string | null; user?: string }>;
  /** A token for `scope` (e.g. to push with), signed as the token server signs. */
  token(scope: string): string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A registry with `token` auth; the token server grants any scope to the given users, nothing anonymously. */
export async function startTokenRegistry(users: Record<string, string>): Promise<TokenRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tokenreg-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=berth-test-token', '-days', '1'], { stdio: 'ignore' });
  const der = new X509Certificate(readFileSync(cert)).raw.toString('base64');
  const keyPem = readFileSync(key);
  const service = 'berth-test-registry';
  const sign = (scope: string) => {
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der] }));
    const claims = b64url(
      JSON.stringify({ iss: 'berth-test-issuer', sub: 'alice', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access: [{ type, name, actions: actions!.split(',') }] }),
    );
    const sig = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem);
    return `${header}.${claims}.${b64url(sig)}`;
  };
  const requests: TokenRegistry['requests'] = [];
  const server = http.createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, pass] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    requests.push({ service: q.get('service'), scope: q.get('scope'), user });
    if (!user || users[user] !== pass || !q.get('scope')) {
      res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: sign(q.get('scope')!), expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const realm = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`;
  const { address, proc } = await serve(dir, `{ token: { realm: "${realm}", service: ${service}, issuer: berth-test-issuer, rootcertbundle: ${cert} } }`);
  const closeServer = () => new Promise<void>((r) => server.close(() => r()));
  return { address, dir, requests, token: sign, stop: stopper(proc, dir, closeServer) };
}
