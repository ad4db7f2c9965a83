// The hostile-image corpus: layers that try to reach the host through `..`, absolute
// names, symlinked parents, hardlinks, whiteouts and opaque markers beneath symlinks,
// overlay xattrs, and images with lying descriptors. Each is pushed to the local registry
// and pulled by berthd for real. After each: the sentinels beside berth's root are
// unchanged, berthd answers, and a refused pull left nothing in the image store.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';
import { layersOf, pushImage } from '../helpers/push.js';
import { makeSentinels, type Sentinels } from '../helpers/sentinels.js';
import { layer, type TarEntry } from '../helpers/tar.js';

let inst: Instance;
let s: Sentinels;
/** The sentinel dir as a relative path that climbs out of any layer directory. */
let up: string;
test.before(async () => {
  inst = await startInstance();
  s = makeSentinels(inst.dir);
  up = '../'.repeat(40) + s.dir.slice(1);
});
test.after.always(async () => {
  await inst?.cleanup();
});

/** Nothing of a refused or removed pull is left: no temp dirs, no layers, no image. */
function storeIsEmpty(t: import('ava').ExecutionContext): void {
  const dirs = ['images', 'layers', 'tmp'].map((d) => path.join(inst.root, d));
  for (const d of dirs) {
    let left: string[] = [];
    try {
      left = readdirSync(d);
    } catch {
      /* never made */
    }
    t.deepEqual(left, [], `${d} is empty`);
  }
}

async function expectRefused(t: import('ava').ExecutionContext, name: string, entries: TarEntry[], why: RegExp): Promise<void> {
  const before = s.snapshot();
  const image = await pushImage(name, { layers: [layer(entries)] });
  await t.throwsAsync(inst.img.pullImage({ image: { image } }), { message: why });
  t.is(s.snapshot(), before, 'the sentinels did not change');
  t.truthy((await inst.rt.version({})).runtimeName, 'berthd still answers');
  t.is((await inst.img.listImages({})).images.length, 0);
  storeIsEmpty(t);
}

const sym = (name: string, linkname: string): TarEntry => ({ name, type: 'symlink', linkname });

// Each: a symlink (absolute, or `..` all the way up) to the sentinel dir, then an entry
// that writes beneath it. Refusing the layer is the safe answer (nothing followed).
const throughSymlink: Array<[string, (target: string) => TarEntry[]]> = [
  ['whiteout', (d) => [sym('d', d), { name: 'd/.wh.victim' }]],
  ['opaque', (d) => [sym('d', d), { name: 'd/.wh..wh..opq' }]],
  ['whiteout-nested', (d) => [sym('d', d), { name: 'd/sub/.wh.victim' }]],
  ['file', (d) => [sym('d', d), { name: 'd/victim', data: 'pwned\n' }]],
  ['file-new', (d) => [sym('d', d), { name: 'd/planted', data: 'pwned\n' }]],
  ['dir', (d) => [sym('d', d), { name: 'd/newdir', type: 'dir' }]],
  ['device', (d) => [sym('d', d), { name: 'd/null', type: 'char', devmajor: 1, devminor: 3 }]],
  ['fifo', (d) => [sym('d', d), { name: 'd/fifo', type: 'fifo' }]],
  ['symlink', (d) => [sym('d', d), sym('d/link', '/etc/passwd')]],
  ['hardlink-into', (d) => [{ name: 'a', data: 'x' }, sym('d', d), { name: 'd/hl', type: 'hardlink', linkname: 'a' }]],
  ['hardlink-out', (d) => [sym('d', d), { name: 'hl', type: 'hardlink', linkname: 'd/victim' }]],
  ['dir-then-symlink', (d) => [{ name: 'a', type: 'dir' }, { name: 'a/f', data: 'x' }, sym('a', d), { name: 'a/victim', data: 'pwned\n' }]],
  ['xattr', (d) => [sym('d', d), { name: 'd/victim', data: 'pwned', pax: { 'SCHILY.xattr.user.pwned': 'y' } }]],
];

for (const [kind, entries] of throughSymlink) {
  test.serial(`a ${kind} beneath an absolute symlink to the host is refused`, (t) => expectRefused(t, `abs-${kind}`, entries(s.dir), /INVALID_ARGUMENT/));
  test.serial(`a ${kind} beneath a '..' symlink out of the layer is refused`, (t) => expectRefused(t, `rel-${kind}`, entries(up), /INVALID_ARGUMENT/));
}

test.serial("'..' names and '..' hardlink targets are refused", async (t) => {
  await expectRefused(t, 'dotdot-file', [{ name: `${up}/victim`, data: 'pwned\n' }], /INVALID_ARGUMENT.*escapes/);
  await expectRefused(t, 'dotdot-dir', [{ name: `a/../../${up}/x`, type: 'dir' }], /INVALID_ARGUMENT.*escapes/);
  await expectRefused(t, 'dotdot-hardlink', [{ name: 'hl', type: 'hardlink', linkname: `${up}/victim` }], /INVALID_ARGUMENT/);
});

test.serial('a PAX path bomb and a tree too deep are refused without exhausting berthd', async (t) => {
  await expectRefused(t, 'pax-bomb', [{ name: 'x', data: 'x', pax: { comment: Buffer.alloc(8 * 1024 * 1024, 'a') } }], /INVALID_ARGUMENT/);
  await expectRefused(t, 'deep', [{ name: `${'d/'.repeat(2000)}f`, data: 'x' }], /INVALID_ARGUMENT/);
});

test.serial('absolute symlink targets and hardlink targets stay inside the layer (safe success)', async (t) => {
  const before = s.snapshot();
  const l = layer([
    { name: 'etc', type: 'dir' },
    { name: 'etc/real', data: 'inside\n' },
    sym('etc/abs', `${s.victim}`),
    sym('etc/up', up),
    // An absolute hardlink target means the layer's own /etc/real.
    { name: 'hl-abs', type: 'hardlink', linkname: '/etc/real' },
    { name: 'hl-sym', type: 'hardlink', linkname: 'etc/abs' },
  ]);
  const image = await pushImage('inside-links', { layers: [l] });
  await inst.img.pullImage({ image: { image } });
  const diff = path.join(inst.root, 'layers', l.diffId.slice(7), 'diff');
  t.true(lstatSync(path.join(diff, 'etc/abs')).isSymbolicLink());
  t.is(lstatSync(path.join(diff, 'hl-abs')).ino, lstatSync(path.join(diff, 'etc/real')).ino);
  t.true(lstatSync(path.join(diff, 'hl-sym')).isSymbolicLink(), 'a hardlink to a symlink links the symlink itself');
  t.is(s.snapshot(), before);
  await inst.img.removeImage({ image: { image } });
  storeIsEmpty(t);
});

test.serial('overlay and security xattrs in a layer are dropped; others are kept', async (t) => {
  const l = layer([
    {
      name: 'f',
      data: 'x',
      pax: {
        'SCHILY.xattr.trusted.overlay.opaque': 'y',
        'SCHILY.xattr.trusted.overlay.redirect': '/etc',
        'SCHILY.xattr.user.overlay.origin': 'x',
        'SCHILY.xattr.security.selinux': 'system_u:object_r:shadow_t:s0',
        'SCHILY.xattr.user.keep': 'kept',
      },
    },
    { name: 'd', type: 'dir', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
  ]);
  const image = await pushImage('xattrs', { layers: [l] });
  await inst.img.pullImage({ image: { image } });
  const diff = path.join(inst.root, 'layers', l.diffId.slice(7), 'diff');
  const list = (p: string) =>
    execFileSync('python3', ['-c', 'import os,sys; print(" ".join(sorted(os.listxattr(sys.argv[1], follow_symlinks=False))))', p], { encoding: 'utf8' }).trim();
  t.is(list(path.join(diff, 'f')), 'user.keep');
  t.is(list(path.join(diff, 'd')), '');
  await inst.img.removeImage({ image: { image } });
  storeIsEmpty(t);
});

test.serial('descriptors that lie are refused: wrong diffID, absurd or wrong sizes', async (t) => {
  const before = s.snapshot();
  const l = layer([{ name: 'f', data: 'x' }]);
  const cases: Array<[string, Parameters<typeof pushImage>[1], RegExp]> = [
    ['bad-diffid', { layers: [l], diffIds: [`sha256:${'0'.repeat(64)}`] }, /INVALID_ARGUMENT.*diffID/],
    ['size-short', { layers: [{ ...l, size: l.blob.length - 8 }] }, /INVALID_ARGUMENT/],
    ['size-negative', { layers: [{ ...l, size: -1 }] }, /INVALID_ARGUMENT.*size/],
    ['size-absurd', { layers: [{ ...l, size: 2 ** 60 }] }, /INVALID_ARGUMENT.*size/],
    ['size-huge', { layers: [{ ...l, size: 2 ** 52 }] }, /FAILED_PRECONDITION.*free/],
  ];
  for (const [name, spec, why] of cases) {
    const image = await pushImage(name, spec);
    await t.throwsAsync(inst.img.pullImage({ image: { image } }), { message: why }, name);
  }
  t.is(s.snapshot(), before);
  storeIsEmpty(t);
});

test.serial('device nodes and FIFOs are unpacked as what they are, and the device cgroup keeps them shut', async (t) => {
  const devices = layer([
    { name: 'hostile', type: 'dir' },
    { name: 'hostile/mem', type: 'char', devmajor: 1, devminor: 1, mode: 0o666 },
    { name: 'hostile/sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o666 },
    { name: 'hostile/fifo', type: 'fifo', mode: 0o644 },
  ]);
  const image = await pushImage('devices', { layers: [...(await layersOf('busybox', 'latest')), devices] });
  await inst.img.pullImage({ image: { image } });
  const diff = path.join(inst.root, 'layers');
  const top = readdirSync(diff).map((d) => path.join(diff, d, 'diff', 'hostile')).find((d) => existsSync(d))!;
  t.true(lstatSync(path.join(top, 'mem')).isCharacterDevice());
  t.is(lstatSync(path.join(top, 'mem')).rdev, (1 << 8) | 1);
  t.true(lstatSync(path.join(top, 'sda')).isBlockDevice());
  t.true(lstatSync(path.join(top, 'fifo')).isFIFO());

  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('devices') });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('devices', image, ['sleep', '3600']) });
  await inst.rt.startContainer({ containerId });
  const sh = (cmd: string) => inst.rt.execSync({ containerId, cmd: ['sh', '-c', cmd], timeout: 10n });
  const types = await sh('[ -c /hostile/mem ] && [ -b /hostile/sda ] && [ -p /hostile/fifo ] && echo typed');
  t.is(Buffer.from(types.stdout).toString(), 'typed\n');
  for (const dev of ['/hostile/mem', '/hostile/sda']) {
    const r = await sh(`head -c 1 ${dev} > /dev/null`);
    t.not(r.exitCode, 0, `${dev} cannot be opened`);
    t.regex(Buffer.from(r.stderr).toString(), /Operation not permitted/);
  }
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image } });
  t.deepEqual(inst.leaks(), []);
  storeIsEmpty(t);
});

test.serial('an image whose USER is not in its /etc/passwd is refused at CreateContainer, clearly', async (t) => {
  const image = await pushImage('no-such-user', { layers: await layersOf('busybox', 'latest'), config: { User: 'nosuchuser' } });
  await inst.img.pullImage({ image: { image } });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('nouser') });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('nouser', image, ['true']) }), {
    message: /INVALID_ARGUMENT.*user "nosuchuser"/,
  });
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image } });
  t.deepEqual(inst.leaks(), []);
  storeIsEmpty(t);
});
