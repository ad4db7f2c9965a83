// The pull path against the real local registry: zstd, plain and gzip layers (and a
// tar without its trailer, as umoci writes), an index's digest as the RepoDigest, and
// the faults a pull must ride out — a connection cut mid-blob (resumed with Range),
// 503s (retried), two pulls at once (one download) — produced by a fault-injecting
// proxy in front of the real registry (test/helpers/fault-proxy.ts). Serial: each checks
// that the store's tmp/ is empty afterwards.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { type Instance, registry, startInstance } from '../helpers/instance.js';
import { layerTypes, pushOci, putManifest, type Target } from '../helpers/oci-push.js';
import { sha256, tar } from '../helpers/tar.js';

let inst: Instance;
const local: Target = { registry };
const policyFile = path.join(os.tmpdir(), `berth-policy-${randomBytes(4).toString('hex')}.json`);
test.before(async () => {
  inst = await startInstance({ toml: `signature_policy = "${policyFile}"` });
});
test.after.always(async () => {
  await inst?.cleanup();
  rmSync(policyFile, { force: true });
});

/** The files of each layer of a pulled image, by layer (read from the store's layer dirs). */
function layerFiles(id: string): string[][] {
  const rec = JSON.parse(readFileSync(path.join(inst.root, 'images', id.slice(7), 'image.json'), 'utf8')) as { layers: Array<{ chainId: string }> };
  return rec.layers.map((l) => readdirSync(path.join(inst.root, 'layers', l.chainId.slice(7), 'diff')).sort());
}

const tag = () => randomBytes(4).toString('hex');

test.serial('zstd, uncompressed and gzip layers unpack; a tar without its trailer is accepted', async (t) => {
  const gz = tar([{ name: 'from-gzip', data: 'g\n' }]);
  const zs = tar([{ name: 'from-zstd', data: 'z\n' }, { name: '.wh.from-gzip' }]);
  // umoci ends its tars right after the last member: no two zero blocks.
  const plain = tar([{ name: 'from-tar', data: 't\n' }]).subarray(0, 1024);
  const tg = tag();
  await pushOci(local, 'pull/media', tg, [
    { blob: gzipSync(gz), diffId: sha256(gz), mediaType: layerTypes.gzip },
    { blob: zstdCompressSync(zs), diffId: sha256(zs), mediaType: layerTypes.zstd },
    { blob: plain, diffId: sha256(plain), mediaType: layerTypes.tar },
  ]);
  const { imageRef } = await inst.img.pullImage({ image: { image: `${registry}/pull/media:${tg}` } });
  t.deepEqual(layerFiles(imageRef), [['from-gzip'], ['from-gzip', 'from-zstd'], ['from-tar']]);
  t.deepEqual(readdirSync(path.join(inst.root, 'tmp')), [], 'no temp copy is left');
});

test.serial('a tag that names an index records the index digest as the RepoDigest', async (t) => {
  const body = tar([{ name: 'in-index', data: 'i\n' }]);
  const tg = tag();
  const m = await pushOci(local, 'pull/index', `${tg}-amd64`, [{ blob: gzipSync(body), diffId: sha256(body), mediaType: layerTypes.gzip }]);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.size, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.size, platform: { os: 'linux', architecture: 's390x' } },
    ],
  };
  const indexDigest = await putManifest(local, 'pull/index', tg, index, index.mediaType);
  const { imageRef } = await inst.img.pullImage({ image: { image: `${registry}/pull/index:${tg}` } });
  const st = await inst.img.imageStatus({ image: { image: imageRef } });
  t.deepEqual(st.image!.repoDigests, [`${registry}/pull/index@${indexDigest}`]);
  t.false(st.image!.repoDigests.includes(`${registry}/pull/index@${m.digest}`));
  // Pulled by the index digest, the same image and RepoDigest.
  const again = await inst.img.pullImage({ image: { image: `${registry}/pull/index@${indexDigest}` } });
  t.is(again.imageRef, imageRef);
  // Verbose status: the image config with its history, and the platform manifest.
  const verbose = await inst.img.imageStatus({ image: { image: imageRef }, verbose: true });
  const info = JSON.parse(verbose.info.info!) as { imageSpec: { os: string; architecture: string; rootfs: { diff_ids: string[] }; history: unknown[]; config: { Cmd: string[] } }; manifestDigest: string };
  t.is(info.manifestDigest, m.digest);
  t.deepEqual([info.imageSpec.os, info.imageSpec.architecture], ['linux', 'amd64']);
  t.deepEqual(info.imageSpec.rootfs.diff_ids, [sha256(body)]);
  t.deepEqual(info.imageSpec.history, [{ created_by: 'berth test layer' }]);
  t.deepEqual(info.imageSpec.config.Cmd, ['/bin/sh']);
});

test.serial('a connection cut mid-blob is resumed with Range; 503s are retried; two pulls at once share one download', async (t) => {
  const proxy = await new FaultProxy(registry, { cuts: 1, cutAfter: 300_000, manifest503: 2 }).start();
  t.teardown(() => proxy.stop());
  // Incompressible data, so the blob is as big as the file.
  const body = tar([{ name: 'big', data: randomBytes(1_000_000) }]);
  const blob = gzipSync(body, { level: 1 });
  const tg = tag();
  await pushOci(local, 'pull/faults', tg, [{ blob, diffId: sha256(body), mediaType: layerTypes.gzip }]);
  const image = `${proxy.address}/pull/faults:${tg}`;
  const [a, b] = await Promise.all([inst.img.pullImage({ image: { image } }), inst.img.pullImage({ image: { image } })]);
  t.is(a.imageRef, b.imageRef);
  const layerGets = proxy.blobGets().filter((s) => s.url.endsWith(sha256(blob)));
  t.is(layerGets.length, 2, 'one download, resumed once');
  t.is(layerGets[0]!.range, undefined);
  t.regex(layerGets[1]!.range ?? '', /^bytes=\d+-$/);
  t.true(Number(/\d+/.exec(layerGets[1]!.range!)![0]) >= 300_000 - 65_536, 'resumed near where it was cut');
  t.is(layerGets[1]!.status, 206, 'the registry served the range');
  t.is(proxy.seen.filter((s) => s.status === 503).length, 2);
  t.deepEqual(layerFiles(a.imageRef), [['big']]);
  await inst.waitForLog(/layer download interrupted; resuming/);
});

test.serial('a manifest over 4 MiB, or one that is not what its digest says, is refused naming the image and host', async (t) => {
  // The real registry refuses to store manifests over 4 MiB, so a proxy serves one.
  const proxy = await new FaultProxy(registry).start();
  t.teardown(() => proxy.stop());
  const ociIndex = 'application/vnd.oci.image.index.v1+json';
  const huge = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociIndex, manifests: [], annotations: { p: 'p'.repeat(4 << 20) } }));
  proxy.faults.manifestBody = { body: huge, headers: { 'content-type': ociIndex } };
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${proxy.address}/pull/huge:v1` } }), {
    message: new RegExp(`INVALID_ARGUMENT.*pull/huge:v1.*manifest.*${proxy.address.replace(/\./g, '\\.')}.*4194304-byte limit`),
  });
  const small = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociIndex, manifests: [] }));
  proxy.faults.manifestBody = { body: small, headers: { 'content-type': ociIndex, 'docker-content-digest': sha256(Buffer.from('other')) } };
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${proxy.address}/pull/lies:v1` } }), {
    message: /INVALID_ARGUMENT.*pull\/lies:v1.*manifest digest mismatch from 127\.0\.0\.1:\d+/,
  });
  t.deepEqual(readdirSync(path.join(inst.root, 'tmp')), []);
});

test.serial('policy.json: a rejected scope refuses the pull (FAILED_PRECONDITION) before the registry is asked', async (t) => {
  const body = tar([{ name: 'p', data: 'p' }]);
  const tg = tag();
  await pushOci(local, 'pull/policy', tg, [{ blob: gzipSync(body), diffId: sha256(body), mediaType: layerTypes.gzip }]);
  writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { [`${registry}/pull/policy`]: [{ type: 'reject' }] } } }));
  t.teardown(() => rmSync(policyFile, { force: true }));
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${registry}/pull/policy:${tg}` } }), { message: /FAILED_PRECONDITION.*rejected by signature policy/ });
  rmSync(policyFile);
  const { imageRef } = await inst.img.pullImage({ image: { image: `${registry}/pull/policy:${tg}` } });
  t.regex(imageRef, /^sha256:/);
});

test.serial('berthd killed (-9) in the middle of a pull: after a restart no half layer counts, tmp/ is swept, and the pull completes', async (t) => {
  // Layers of incompressible data, slowed by a proxy that cuts each connection once, so
  // the kill lands while layers are being streamed.
  const proxy = await new FaultProxy(registry, { cuts: 100, cutAfter: 2_000_000 }).start();
  t.teardown(() => proxy.stop());
  const layers = [0, 1, 2].map(() => {
    const body = tar([{ name: `f${randomBytes(3).toString('hex')}`, data: randomBytes(6_000_000) }]);
    return { blob: gzipSync(body, { level: 1 }), diffId: sha256(body), mediaType: layerTypes.gzip };
  });
  const tg = tag();
  await pushOci(local, 'pull/killed', tg, layers);
  const image = `${proxy.address}/pull/killed:${tg}`;
  const pulling = inst.img.pullImage({ image: { image } }).catch((e: Error) => e);
  await inst.waitForLog(/layer download interrupted; resuming/, 30_000);
  await inst.restart(true);
  t.true((await pulling) instanceof Error, 'the interrupted pull failed for its caller');
  t.deepEqual(readdirSync(path.join(inst.root, 'tmp')), [], 'half layers in tmp/ were swept at start-up');
  const layersDir = path.join(inst.root, 'layers');
  for (const d of existsSync(layersDir) ? readdirSync(layersDir) : []) {
    t.true(readdirSync(path.join(inst.root, 'layers', d)).includes('committed'), `layer ${d} is complete`);
  }
  t.falsy((await inst.img.imageStatus({ image: { image } })).image);
  proxy.faults.cuts = 0;
  const { imageRef } = await inst.img.pullImage({ image: { image } });
  t.is(layerFiles(imageRef).length, 3);
});
