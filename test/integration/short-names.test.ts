// Short names through registries.conf's unqualified-search-registries, against the local
// registry: each search registry is tried in order and the first that has the image
// wins (CRI-O's permissive mode for the CRI) — past one that is down and one that lacks
// it; the pulled image answers ImageStatus by the same short name; a name no search
// registry has is NOT_FOUND naming them all. An `[aliases]` entry (from the file or a
// registries.conf.d drop-in, the later winning) decides alone where a short name comes
// from; a bad one is INVALID_ARGUMENT naming the file and the key.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/free-port.js';
import os from 'node:os';
import path from 'node:path';
import { busyboxV2s2, type Instance, registry, startInstance } from '../helpers/instance.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-short-'));
const regConf = path.join(dir, 'registries.conf');
let inst: Instance;
let empty: { address: string; stop: () => Promise<void> };

/** A real docker-registry with nothing in it. */
async function emptyRegistry(): Promise<typeof empty> {
  const address = `127.0.0.1:${await freePort()}`;
  writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${dir}/data } }\nhttp: { addr: ${address} }\n`);
  const proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; !(await fetch(`http://${address}/v2/`).then((r) => r.ok, () => false)); i++) {
    if (i > 100 || proc.exitCode !== null) throw new Error(`docker-registry did not come up on ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

test.before(async () => {
  empty = await emptyRegistry();
  const down = `127.0.0.1:${await freePort()}`; // nothing listens there
  writeFileSync(regConf, `unqualified-search-registries = ["${down}", "${empty.address}", "${registry}"]\nshort-name-mode = "enforcing"\n`);
  inst = await startInstance({ env: { CONTAINERS_REGISTRIES_CONF: regConf } });
});

test.after.always(async () => {
  await inst?.cleanup();
  await empty?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a short name is pulled from the first search registry that has it, and found by that name', async (t) => {
  const { imageRef } = await inst.img.pullImage({ image: { image: 'busybox' } });
  const st = await inst.img.imageStatus({ image: { image: 'busybox' } });
  t.is(st.image?.id, imageRef);
  t.true(st.image!.repoTags.includes(`${registry}/busybox:latest`), JSON.stringify(st.image!.repoTags));
  // The fully qualified name is the same image.
  t.is((await inst.img.imageStatus({ image: { image: `${registry}/busybox:latest` } })).image?.id, imageRef);
});

test.serial('a short name no search registry has: UNAVAILABLE while one was down (it may hold it), else NOT_FOUND; each host named', async (t) => {
  const esc = (s: string) => s.replace(/\./g, '\\.');
  await t.throwsAsync(inst.img.pullImage({ image: { image: 'no-such-image:v1' } }), {
    message: new RegExp(`UNAVAILABLE.*no-such-image.*unreachable.*${esc(empty.address)}.*not found.*${esc(registry)}.*not found`),
  });
  // registries.conf is read at each pull.
  writeFileSync(regConf, `unqualified-search-registries = ["${empty.address}", "${registry}"]\n`);
  await t.throwsAsync(inst.img.pullImage({ image: { image: 'no-such-image:v1' } }), {
    message: new RegExp(`NOT_FOUND.*no-such-image.*${esc(empty.address)}.*${esc(registry)}`),
  });
  t.falsy((await inst.img.imageStatus({ image: { image: 'no-such-image:v1' } })).image);
});

test.serial('an alias resolves a short name before the search registries; a later drop-in wins; a bad one names file and key', async (t) => {
  const esc = (s: string) => s.replace(/[.[\]]/g, '\\$&');
  const dropDir = path.join(dir, 'registries.conf.d');
  t.teardown(() => rmSync(dropDir, { recursive: true, force: true }));
  // The search registry lacks "tiny"; the file's alias names a repository nobody has.
  writeFileSync(regConf, `unqualified-search-registries = ["${empty.address}"]\n[aliases]\n"tiny" = "${registry}/no-such-repo"\n`);
  await t.throwsAsync(inst.img.pullImage({ image: { image: 'tiny' } }), {
    message: new RegExp(`NOT_FOUND.*short name "tiny" \\(alias for ${esc(registry)}/no-such-repo in ${esc(regConf)}\\)`),
  });
  // A drop-in sets it right: only the alias is pulled (the search registry is never asked).
  mkdirSync(dropDir);
  writeFileSync(path.join(dropDir, '10-tiny.conf'), `[aliases]\n"tiny" = "${registry}/busybox"\n`);
  const { imageRef } = await inst.img.pullImage({ image: { image: 'tiny:v2s2' } });
  const st = await inst.img.imageStatus({ image: { image: 'tiny:v2s2' } });
  t.is(st.image?.id, imageRef);
  t.true(st.image!.repoTags.includes(busyboxV2s2), JSON.stringify(st.image!.repoTags));
  // A later drop-in with a tagged value: refused, naming that file and the key.
  writeFileSync(path.join(dropDir, '20-bad.conf'), `[aliases]\n"tiny" = "${registry}/busybox:v1"\n`);
  await t.throwsAsync(inst.img.pullImage({ image: { image: 'tiny' } }), {
    message: new RegExp(`INVALID_ARGUMENT.*${esc(path.join(dropDir, '20-bad.conf'))}: \\[aliases\\] "tiny".*tag`),
  });
});
