// Bombs: a layer of 200,000 empty files in 200 directories (memory must not grow with the
// entry count, and no per-file work may hold the event loop), and a gzip bomb that
// unpacks past the configured per-layer cap. Figures are printed (t.log); the bounds
// asserted are memory bounds, never speed.
import test from 'ava';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { busybox, type Instance, startInstance } from '../helpers/instance.js';
import { pushImage } from '../helpers/push.js';
import { makeSentinels, rssMiB, type Sentinels } from '../helpers/sentinels.js';
import { layer, type TarEntry } from '../helpers/tar.js';

let inst: Instance;
let s: Sentinels;
test.before(async () => {
  // A low per-layer cap (the 200,000-file layer is ~100 MiB of tar), so the gzip bomb
  // below meets it quickly.
  inst = await startInstance({ toml: `max_layer_bytes = ${160 * 1024 * 1024}` });
  s = makeSentinels(inst.dir);
});
test.after.always(async () => {
  await inst?.cleanup();
});

/** Runs `op` while sampling berthd's RSS and the latency of a Version call. */
async function measured<T>(op: () => Promise<T>): Promise<{ value: T; peakMiB: number; maxRpcMs: number }> {
  let peak = rssMiB(inst.proc.pid!);
  let maxRpcMs = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssMiB(inst.proc.pid!));
      const t0 = Date.now();
      await inst.rt.version({});
      maxRpcMs = Math.max(maxRpcMs, Date.now() - t0);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    return { value: await op(), peakMiB: peak, maxRpcMs };
  } finally {
    running = false;
    await sampler;
    peak = Math.max(peak, rssMiB(inst.proc.pid!));
  }
}

function* manyFiles(): Generator<TarEntry> {
  for (let d = 0; d < 200; d++) {
    yield { name: `d${d}`, type: 'dir' };
    for (let f = 0; f < 1000; f++) yield { name: `d${d}/f${f}` };
  }
}

test.serial('a layer of 200,000 files: memory does not grow with the entry count', async (t) => {
  const before = s.snapshot();
  const l = layer(manyFiles());
  const image = await pushImage('many-files', { layers: [l] });
  // Warm up first (a whole pull and removal of another image loads every code path and
  // pool), so what is measured is what grows with the entry count.
  await inst.img.pullImage({ image: { image: busybox } });
  await inst.img.removeImage({ image: { image: busybox } });
  const rssBefore = rssMiB(inst.proc.pid!);
  const pull = await measured(() => inst.img.pullImage({ image: { image } }));
  const fsInfo = await measured(() => inst.img.imageFsInfo({}));
  const removedAt = Date.now();
  const removal = await measured(() => inst.img.removeImage({ image: { image } }));
  const removalMs = Date.now() - removedAt;
  await new Promise((r) => setTimeout(r, 500));
  const rssAfter = rssMiB(inst.proc.pid!);
  const peak = Math.max(pull.peakMiB, fsInfo.peakMiB, removal.peakMiB);
  t.log(`layer: ${l.blob.length} bytes gzip, 200,200 entries`);
  t.log(`berthd RSS MiB: before ${rssBefore.toFixed(1)}, peak ${peak.toFixed(1)} (+${(peak - rssBefore).toFixed(1)}), after ${rssAfter.toFixed(1)}`);
  t.log(`RemoveImage took ${removalMs} ms`);
  t.log(`slowest Version RPC while busy (ms): pull ${pull.maxRpcMs}, ImageFsInfo ${fsInfo.maxRpcMs}, RemoveImage ${removal.maxRpcMs}`);
  t.true(fsInfo.value.imageFilesystems[0]!.inodesUsed!.value >= 200_000n, 'ImageFsInfo counted the inodes');
  t.true(peak - rssBefore < 64, `peak RSS grew by ${(peak - rssBefore).toFixed(1)} MiB (bound: 64)`);
  t.true(rssAfter - rssBefore < 64, `RSS after removal is ${(rssAfter - rssBefore).toFixed(1)} MiB above before`);
  t.deepEqual(readdirSync(path.join(inst.root, 'layers')), []);
  t.is(s.snapshot(), before);
});

test.serial('a gzip bomb stops at the per-layer cap and leaves nothing behind', async (t) => {
  const before = s.snapshot();
  const l = layer([{ name: 'zeros', data: Buffer.alloc(256 * 1024 * 1024) }]);
  t.log(`bomb: ${l.blob.length} bytes of gzip unpack to 256 MiB (cap 160 MiB)`);
  const image = await pushImage('gzip-bomb', { layers: [l] });
  const pull = await measured(() => t.throwsAsync(inst.img.pullImage({ image: { image } }), { message: /INVALID_ARGUMENT.*(limit|cap|bytes)/ }));
  t.log(`peak RSS MiB ${pull.peakMiB.toFixed(1)}`);
  t.deepEqual(readdirSync(path.join(inst.root, 'tmp')), []);
  t.is((await inst.img.listImages({})).images.length, 0);
  t.is(s.snapshot(), before);
});
