// A real docker-registry serving TLS with a certificate from a CA this test makes
// (openssl), on a port of its own: berthd refuses it while it does not trust that CA
// (FAILED_PRECONDITION naming the host, nothing left in tmp/), pulls from it once the
// CA is in certs.d/<host:port>/ca.crt (as the containers tools read it), and pulls
// with `insecure = true` without any CA (TLS unverified — the registry speaks nothing
// else). Manifests and layers both go through the native client, so both are checked.
import test from 'ava';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../helpers/free-port.js';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Instance, startInstance } from '../helpers/instance.js';
import { layerTypes, pushOci } from '../helpers/oci-push.js';
import { sha256, tar } from '../helpers/tar.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tlsreg-'));
const certsD = path.join(dir, 'certs.d');
const regConf = path.join(dir, 'registries.conf');
const procs: ChildProcess[] = [];
let inst: Instance;
let tlsAddr: string;

/** docker-registry on the shared storage dir; TLS when cert/key are given. */
async function serve(tls?: { cert: string; key: string }): Promise<string> {
  const address = `127.0.0.1:${await freePort()}`;
  const conf = path.join(dir, `config-${address.replace(/\W/g, '_')}.yml`);
  const tlsLine = tls ? `, tls: { certificate: ${tls.cert}, key: ${tls.key} }` : '';
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
  // Images go in over plain HTTP; a second registry on the same storage serves them over TLS only.
  plainAddr = await serve();
  for (const r of ['tls/verified', 'tls/untrusted', 'tls/insecure']) await push(r);
  tlsAddr = await serve({ cert: path.join(dir, 'srv.crt'), key: path.join(dir, 'srv.key') });
  // Loopback is insecure by default: this registry is verified because it says so.
  writeFileSync(regConf, `[[registry]]\nlocation = "${tlsAddr}"\ninsecure = false\n`);
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
