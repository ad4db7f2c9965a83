// A real docker-registry serving TLS with a certificate from a CA this test makes
// (openssl), on a port of its own: berthd refuses it while it does not trust that CA
// (FAILED_PRECONDITION naming the host, nothing left in tmp/), pulls from it once the
// CA is in certs.d/<host:port>/ca.crt (as the containers tools read it), and pulls
// with `insecure = true` without any CA (TLS unverified — the registry speaks nothing
// else). Manifests and layers both go through the native client, so both are checked.
// A third registry asks for client certificates (http.tls.clientcas, mTLS): refused
// without one (FAILED_PRECONDITION saying what to put in certs.d), half a pair is an
// error naming the file, and with <name>.cert + <name>.key in certs.d/<host>/ the pull
// succeeds — manifests and every layer blob over mTLS — with the key in no log line.
// The token client (node:https, not the native one) offers the same pair.
import test from 'ava';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { freePort } from '../helpers/free-port.js';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Instance, startInstance } from '../helpers/instance.js';
import { layerTypes, pushOci } from '../helpers/oci-push.js';
import { certsDirTls } from '../../src/registry/certs-d.js';
import { tokenRequest } from '../../src/registry/token-http.js';
import { sha256, tar } from '../helpers/tar.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tlsreg-'));
const certsD = path.join(dir, 'certs.d');
const regConf = path.join(dir, 'registries.conf');
const procs: ChildProcess[] = [];
let inst: Instance;
let tlsAddr: string;
let mtlsAddr: string;

/** docker-registry on the shared storage dir; TLS when cert/key are given, mTLS with clientCa. */
async function serve(tls?: { cert: string; key: string; clientCa?: string }): Promise<string> {
  const address = `127.0.0.1:${await freePort()}`;
  const conf = path.join(dir, `config-${address.replace(/\W/g, '_')}.yml`);
  const clientCas = tls?.clientCa ? `, clientcas: [${tls.clientCa}]` : '';
  const tlsLine = tls ? `, tls: { certificate: ${tls.cert}, key: ${tls.key}${clientCas} }` : '';
  writeFileSync(conf, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${dir}/data } }\nhttp: { addr: ${address}, secret: berth-test${tlsLine} }\n`);
  const proc = spawn('docker-registry', ['serve', conf], { stdio: 'ignore' });
  procs.push(proc);
  for (let i = 0; ; i++) {
    // Up means the port accepts connections (a TLS port would refuse a plain fetch).
    const up = await new Promise<boolean>((r) => {
      const c = net.connect(Number(address.split(':')[1]), '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (up) return address;
    if (i > 100 || proc.exitCode !== null) throw new Error(`docker-registry did not come up on ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

async function push(repo: string): Promise<void> {
  const body = tar([{ name: `${repo.replace(/\W/g, '-')}.txt`, data: `${repo}\n` }]);
  await pushOci({ registry: plainAddr }, repo, 'v1', [{ blob: gzipSync(body), diffId: sha256(body), mediaType: layerTypes.gzip }]);
}

let plainAddr: string;
test.before(async () => {
  // A CA, and a server certificate it signs for 127.0.0.1 (an IP SAN, as a client checks).
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=berth test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n');
  openssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf');
  // A client certificate from the same CA, for the registry that asks for one.
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=berth test client');
  writeFileSync(path.join(dir, 'client-ext.cnf'), 'extendedKeyUsage = clientAuth\nbasicConstraints = CA:FALSE\n');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.cert', '-days', '2', '-extfile', 'client-ext.cnf');
  // Images go in over plain HTTP; a second registry on the same storage serves them over TLS only.
  plainAddr = await serve();
  for (const r of ['tls/verified', 'tls/untrusted', 'tls/insecure', 'mtls/app']) await push(r);
  tlsAddr = await serve({ cert: path.join(dir, 'srv.crt'), key: path.join(dir, 'srv.key') });
  mtlsAddr = await serve({ cert: path.join(dir, 'srv.crt'), key: path.join(dir, 'srv.key'), clientCa: path.join(dir, 'ca.crt') });
  // Loopback is insecure by default: these registries are verified because they say so.
  writeFileSync(regConf, `[[registry]]\nlocation = "${tlsAddr}"\ninsecure = false\n[[registry]]\nlocation = "${mtlsAddr}"\ninsecure = false\n`);
  inst = await startInstance({ toml: `registry_certs_dirs = ["${certsD}"]`, env: { CONTAINERS_REGISTRIES_CONF: regConf } });
});

test.after.always(async () => {
  await inst?.cleanup();
  for (const p of procs) {
    if (p.exitCode !== null) continue;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
});

test.serial('an untrusted certificate is refused: FAILED_PRECONDITION naming the host, nothing left behind', async (t) => {
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${tlsAddr}/tls/untrusted:v1` } }), {
    message: new RegExp(`FAILED_PRECONDITION.*tls/untrusted.*TLS with ${tlsAddr.replace(/\./g, '\\.')}.*(certificate|issuer)`, 'i'),
  });
  t.deepEqual(readdirSync(path.join(inst.root, 'tmp')), []);
});

test.serial('a CA in certs.d/<host:port>/ca.crt makes the registry trusted (manifest and layers over verified TLS)', async (t) => {
  mkdirSync(path.join(certsD, tlsAddr), { recursive: true });
  execFileSync('cp', [path.join(dir, 'ca.crt'), path.join(certsD, tlsAddr, 'ca.crt')]);
  t.teardown(() => rmSync(path.join(certsD, tlsAddr), { recursive: true, force: true }));
  const { imageRef } = await inst.img.pullImage({ image: { image: `${tlsAddr}/tls/verified:v1` } });
  t.regex(imageRef, /^sha256:/);
  const st = await inst.img.imageStatus({ image: { image: `${tlsAddr}/tls/verified:v1` } });
  t.is(st.image?.id, imageRef);
});

test.serial('insecure = true: TLS without verification, no CA needed', async (t) => {
  writeFileSync(regConf, `[[registry]]\nlocation = "${tlsAddr}"\ninsecure = true\n`);
  const { imageRef } = await inst.img.pullImage({ image: { image: `${tlsAddr}/tls/insecure:v1` } });
  t.regex(imageRef, /^sha256:/);
});

/** certs.d/<mtls host>/ holding the CA and the given files (name → source file in dir). */
function mtlsCertsD(files: Record<string, string>): string {
  // Verified TLS (an insecure registry would be retried over plain HTTP after the refusal).
  writeFileSync(regConf, `[[registry]]\nlocation = "${mtlsAddr}"\ninsecure = false\n`);
  const d = path.join(certsD, mtlsAddr);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  execFileSync('cp', [path.join(dir, 'ca.crt'), path.join(d, 'ca.crt')]);
  for (const [name, src] of Object.entries(files)) execFileSync('cp', [path.join(dir, src), path.join(d, name)]);
  return d;
}

test.serial('mTLS: without a client certificate the registry refuses us, and the error says what certs.d needs', async (t) => {
  const d = mtlsCertsD({});
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${mtlsAddr}/mtls/app:v1` } }), {
    message: new RegExp(`FAILED_PRECONDITION.*mtls/app.*TLS with ${mtlsAddr.replace(/\./g, '\\.')}.*wants a client certificate.*\\.cert and .*\\.key in certs\\.d/${mtlsAddr.replace(/\./g, '\\.')}`),
  });
  t.deepEqual(readdirSync(path.join(inst.root, 'tmp')), []);
});

test.serial('mTLS: a .cert without its .key (or the reverse) is FAILED_PRECONDITION naming the file', async (t) => {
  let d = mtlsCertsD({ 'client.cert': 'client.cert' });
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${mtlsAddr}/mtls/app:v1` } }), {
    message: new RegExp(`FAILED_PRECONDITION.*client certificate ${path.join(d, 'client.cert').replace(/\./g, '\\.')} has no key client\\.key`),
  });
  d = mtlsCertsD({ 'client.key': 'client.key' });
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${mtlsAddr}/mtls/app:v1` } }), {
    message: new RegExp(`FAILED_PRECONDITION.*key ${path.join(d, 'client.key').replace(/\./g, '\\.')} has no client certificate client\\.cert`),
  });
});

test.serial('mTLS: with <name>.cert + <name>.key in certs.d the pull succeeds (manifest and layers), and the key is never logged', async (t) => {
  const d = mtlsCertsD({ 'client.cert': 'client.cert', 'client.key': 'client.key' });
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const { imageRef } = await inst.img.pullImage({ image: { image: `${mtlsAddr}/mtls/app:v1` } });
  t.regex(imageRef, /^sha256:/);
  t.is((await inst.img.imageStatus({ image: { image: `${mtlsAddr}/mtls/app:v1` } })).image?.id, imageRef);
  // A line of the key's base64 body: long and random, so a leak would show it.
  const keyLine = readFileSync(path.join(dir, 'client.key'), 'utf8').split('\n')[5]!;
  t.true(keyLine.length > 40);
  t.false(inst.log().includes(keyLine));
});

test.serial('the token client (GET, and the identity-token POST) offers the certs.d client certificate to a token server that asks for one', async (t) => {
  const server = https.createServer(
    { cert: readFileSync(path.join(dir, 'srv.crt')), key: readFileSync(path.join(dir, 'srv.key')), ca: readFileSync(path.join(dir, 'ca.crt')), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => res.end(JSON.stringify({ token: `${req.method} for ${(req.socket as TLSSocket).getPeerCertificate().subject.CN}${body ? ` ${req.headers['content-type']} ${body}` : ''}` })));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = new URL(`https://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`);
  const d = mtlsCertsD({ 'client.cert': 'client.cert', 'client.key': 'client.key' });
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const withPair = certsDirTls(mtlsAddr, [certsD]);
  const res = await tokenRequest(url, { method: 'GET', signal: AbortSignal.timeout(10_000), tls: withPair });
  t.deepEqual([res.status, JSON.parse(res.body)], [200, { token: 'GET for berth test client' }]);
  // The identity-token grant is a form POST.
  const post = await tokenRequest(url, { method: 'POST', body: 'grant_type=refresh_token', signal: AbortSignal.timeout(10_000), tls: withPair });
  t.deepEqual(JSON.parse(post.body), { token: 'POST for berth test client application/x-www-form-urlencoded grant_type=refresh_token' });
  // The same CA without the pair: the server ends the handshake.
  await t.throwsAsync(tokenRequest(url, { method: 'GET', signal: AbortSignal.timeout(10_000), tls: { ...withPair, clientCerts: [] } }));
});
