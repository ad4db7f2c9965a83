// Registry auth against real docker-registry instances started by this test on their
// own ports. Bearer token flow: a registry with `token` auth and a token server of the
// test's own — a token fetched with the AuthConfig's credentials for the pull scope,
// cached, and a registry_token sent as is. htpasswd (Basic) auth: refused anonymously and with a wrong password (clearly,
// UNAUTHENTICATED), pulled with the CRI AuthConfig (username/password and `auth`) and
// with an auth file (REGISTRY_AUTH_FILE); credentials never follow a redirect to another
// host (a proxy redirects blob downloads to a storage server of the test's own).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type AuthRegistry, startHtpasswdRegistry, startTokenRegistry, type TokenRegistry } from '../helpers/auth-registry.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { type Instance, startInstance } from '../helpers/instance.js';
import { layerTypes, pushOci } from '../helpers/oci-push.js';
import { sha256, tar } from '../helpers/tar.js';
import { gzipSync } from 'node:zlib';

const authFile = path.join(os.tmpdir(), `berth-auth-${randomBytes(4).toString('hex')}.json`);
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
let inst: Instance;
let reg: AuthRegistry;
let tokenReg: TokenRegistry;
let image: string;
test.before(async () => {
  tokenReg = await startTokenRegistry({ bob: 'b0b' });
  const tbody = tar([{ name: 'token-file', data: 'only with a token\n' }]);
  await pushOci({ registry: tokenReg.address, authorization: `Bearer ${tokenReg.token('repository:tok/app:pull,push')}` }, 'tok/app', 'v1', [
    { blob: gzipSync(tbody), diffId: sha256(tbody), mediaType: layerTypes.gzip },
  ]);
  reg = await startHtpasswdRegistry({ alice: 's3cret' });
  const body = tar([{ name: 'secret-file', data: 'only for alice\n' }]);
  await pushOci({ registry: reg.address, authorization: basic('alice', 's3cret') }, 'private/app', 'v1', [
    { blob: gzipSync(body), diffId: sha256(body), mediaType: layerTypes.gzip },
  ]);
  image = `${reg.address}/private/app:v1`;
  inst = await startInstance({ env: { REGISTRY_AUTH_FILE: authFile } });
});
test.after.always(async () => {
  await inst?.cleanup();
  await reg?.stop();
  await tokenReg?.stop();
  rmSync(authFile, { force: true });
});

async function pullThenRemove(t: import('ava').ExecutionContext, req: Record<string, unknown>): Promise<void> {
  const { imageRef } = await inst.img.pullImage(req);
  t.regex(imageRef, /^sha256:[a-f0-9]{64}$/);
  await inst.img.removeImage({ image: { image: imageRef } });
}

test.serial('anonymous and wrong-password pulls are refused, UNAUTHENTICATED, naming the host', async (t) => {
  await t.throwsAsync(inst.img.pullImage({ image: { image } }), { message: new RegExp(`UNAUTHENTICATED.*private/app:v1.*${reg.address}.*anonymously`) });
  await t.throwsAsync(inst.img.pullImage({ image: { image }, auth: { username: 'alice', password: 'wrong' } }), {
    message: /UNAUTHENTICATED.*refused access as alice/,
  });
  t.is((await inst.img.listImages({})).images.length, 0);
});

test.serial('the CRI AuthConfig: username/password, and `auth`', async (t) => {
  await pullThenRemove(t, { image: { image }, auth: { username: 'alice', password: 's3cret' } });
  await pullThenRemove(t, { image: { image }, auth: { auth: Buffer.from('alice:s3cret').toString('base64'), serverAddress: reg.address } });
});

test.serial('an auth file (REGISTRY_AUTH_FILE, containers-auth.json format) when the request has none', async (t) => {
  writeFileSync(authFile, JSON.stringify({ auths: { [`${reg.address}/private`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
  await pullThenRemove(t, { image: { image } });
  // A key for another namespace does not apply.
  writeFileSync(authFile, JSON.stringify({ auths: { [`${reg.address}/other`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
  await t.throwsAsync(inst.img.pullImage({ image: { image } }), { message: /UNAUTHENTICATED/ });
  rmSync(authFile);
});

test.serial('credentials are not sent to the storage host a blob download redirects to', async (t) => {
  // The storage host: records what it was sent, and fetches the blob itself.
  const storageSaw: Array<string | undefined> = [];
  const storage = http.createServer(async (req, res) => {
    storageSaw.push(req.headers.authorization);
    const up = await fetch(`http://${reg.address}${req.url}`, { headers: { authorization: basic('alice', 's3cret') } });
    res.writeHead(up.status, { 'content-length': up.headers.get('content-length') ?? undefined });
    res.end(Buffer.from(await up.arrayBuffer()));
  });
  await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => storage.close(() => r())));
  const proxy = await new FaultProxy(reg.address, { redirectBlobsTo: `http://127.0.0.1:${(storage.address() as AddressInfo).port}` }).start();
  t.teardown(() => proxy.stop());
  await pullThenRemove(t, { image: { image: `${proxy.address}/private/app:v1` }, auth: { username: 'alice', password: 's3cret' } });
  t.true(storageSaw.length >= 2, 'config and layer came from the storage host');
  t.deepEqual(storageSaw.filter(Boolean), [], 'no Authorization header reached it');
  t.true(proxy.seen.some((s) => s.url.includes('/manifests/') && s.authorization === basic('alice', 's3cret')), 'the registry itself got the credentials');
});

test.serial('Bearer: a token for the pull scope, fetched with the AuthConfig credentials, cached; refused anonymously; a registry_token as is', async (t) => {
  const image = `${tokenReg.address}/tok/app:v1`;
  await t.throwsAsync(inst.img.pullImage({ image: { image } }), { message: /UNAUTHENTICATED.*token server 127\.0\.0\.1:\d+ .*refused a token for repository:tok\/app:pull/ });
  tokenReg.requests.length = 0;
  await pullThenRemove(t, { image: { image }, auth: { username: 'bob', password: 'b0b' } });
  t.deepEqual(tokenReg.requests, [{ service: 'berth-test-registry', scope: 'repository:tok/app:pull', user: 'bob' }]);
  // The cached token serves the next pull: the token server is not asked again.
  await pullThenRemove(t, { image: { image }, auth: { username: 'bob', password: 'b0b' } });
  t.is(tokenReg.requests.length, 1);
  // A registry token goes to the registry as is (no token server round trip).
  tokenReg.requests.length = 0;
  await pullThenRemove(t, { image: { image }, auth: { registryToken: tokenReg.token('repository:tok/app:pull') } });
  t.is(tokenReg.requests.length, 0);
});
