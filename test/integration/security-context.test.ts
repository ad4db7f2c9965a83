// The OCI spec from the security context and mounts, on real runc (and crun where it
// behaves differently): users by name from the image's own /etc/passwd and /etc/group
// (hostile ones included), supplementary groups Merge/Strict, seccomp profiles, mount
// propagation with its host-side checks, and image volumes — each followed by a leak check.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ContainerState, MountPropagation, SecurityProfile_ProfileType, SupplementalGroupsPolicy } from '../../src/gen/runtime/v1/api.js';
import { native } from '../../src/native/index.js';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';
import { layersOf, pushImage } from '../helpers/push.js';
import { layer, type TarEntry } from '../helpers/tar.js';

let inst: Instance;
let named: string; // busybox + passwd/group naming app (1234), USER app
let base: Awaited<ReturnType<typeof layersOf>>;
test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
  base = await layersOf('busybox', 'latest');
  named = await pushImage('users-named', {
    layers: [
      ...base,
      layer([
        { name: 'etc', type: 'dir' },
        { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' },
        { name: 'etc/group', data: 'root:x:0:\napp:x:1234:\nextra:x:5000:nobody,app\nother:x:6000:\n' },
        { name: 'data', type: 'symlink', linkname: '/etc' },
      ]),
    ],
    config: { User: 'app' },
  });
  await inst.img.pullImage({ image: { image: named } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const out = (b: Uint8Array) => Buffer.from(b).toString();

async function pod(name: string, extra: Record<string, unknown> = {}) {
  const config = podConfig(name, { logDirectory: inst.logDir, ...extra });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config, runtimeHandler: (extra.handler as string) ?? '' });
  return { podSandboxId, config };
}

async function run(podSandboxId: string, name: string, image: string, extra: Record<string, unknown> = {}, cmd = ['sleep', '3600']) {
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig(name, image, cmd, extra) });
  await inst.rt.startContainer({ containerId });
  return containerId;
}

const exec = async (containerId: string, cmd: string[]) => {
  const r = await inst.rt.execSync({ containerId, cmd, timeout: 10n });
  return { code: r.exitCode, stdout: out(r.stdout), stderr: out(r.stderr) };
};

const sc = (securityContext: Record<string, unknown>) => ({ linux: { securityContext: { namespaceOptions: { pid: 1 }, ...securityContext } } });

test.serial('users by name from the image files; supplementary groups Merge and Strict; ContainerStatus.user', async (t) => {
  const { podSandboxId } = await pod('users');
  const asImage = await run(podSandboxId, 'image-user', named);
  t.is((await exec(asImage, ['id'])).stdout, 'uid=1234(app) gid=1234(app) groups=1234(app),5000(extra)\n');
  const st = (await inst.rt.containerStatus({ containerId: asImage })).status!;
  t.deepEqual(st.user?.linux, { uid: 1234n, gid: 1234n, supplementalGroups: [1234n, 5000n] });

  const byName = await run(podSandboxId, 'by-name', named, sc({ runAsUsername: 'nobody' }));
  t.is((await exec(byName, ['id', '-nu'])).stdout, 'nobody\n');
  t.is((await exec(byName, ['id', '-G'])).stdout, '65534 5000\n');

  const strict = await run(podSandboxId, 'strict', named, sc({ runAsUser: { value: 1234n }, supplementalGroups: [42n], supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict }));
  t.is((await exec(strict, ['id', '-G'])).stdout, '1234 42\n');
  t.deepEqual((await inst.rt.containerStatus({ containerId: strict })).status!.user?.linux?.supplementalGroups, [1234n, 42n]);

  const userGroup = await run(podSandboxId, 'user-group', named, sc({ runAsUsername: 'app', runAsGroup: { value: 6000n } }));
  t.is((await exec(userGroup, ['id', '-g'])).stdout, '6000\n');

  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('ghost', named, ['true'], sc({ runAsUsername: 'ghost' })) }), {
    message: /INVALID_ARGUMENT.*"ghost" is not in the image's \/etc\/passwd/,
  });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('range', named, ['true'], sc({ runAsUser: { value: 1n << 32n } })) }), {
    message: /INVALID_ARGUMENT.*run_as_user 4294967296 is out of range/,
  });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('hostile /etc/passwd and /etc/group: symlinks out, a FIFO, an oversized file are refused by name, never followed', async (t) => {
  const huge = `${'x:x:1:1::/:/bin/sh\n'.repeat(260_000)}app:x:7:7::/:/bin/sh\n`; // > 4 MiB
  const cases: Array<[string, TarEntry[], RegExp]> = [
    ['passwd-symlink', [{ name: 'etc', type: 'dir' }, { name: 'etc/passwd', type: 'symlink', linkname: '/etc/passwd' }], /symbolic links/],
    ['etc-symlink', [{ name: 'etc', type: 'symlink', linkname: '/' }], /symbolic links/],
    ['passwd-huge', [{ name: 'etc', type: 'dir' }, { name: 'etc/passwd', data: huge }], /larger than 4194304 bytes/],
  ];
  const { podSandboxId } = await pod('hostile-users');
  t.teardown(() => inst.rt.removePodSandbox({ podSandboxId }).then(() => undefined, () => undefined));
  for (const [name, entries, why] of cases) {
    // "root" is in the host's /etc/passwd: only following the link would find it.
    const image = await pushImage(name, { layers: [...base, layer(entries)], config: { User: 'root' } });
    await inst.img.pullImage({ image: { image } });
    await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig(name, image, ['true']) }), {
      message: new RegExp(`INVALID_ARGUMENT.*user "root": the image's /etc/passwd cannot be used: .*${why.source}`),
    }, name);
    // A numeric user needs neither file: the same image runs as uid 0.
    const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig(`${name}-n`, image, ['true'], sc({ runAsUser: { value: 0n } })) });
    await inst.rt.removeContainer({ containerId });
    await inst.img.removeImage({ image: { image } });
  }
  // A FIFO would hang the runtime itself (runc opens /etc/passwd in the container for
  // any user): refused even for a numeric user, at once.
  const fifo = await pushImage('passwd-fifo', { layers: [...base, layer([{ name: 'etc', type: 'dir' }, { name: 'etc/passwd', type: 'fifo' }])] });
  await inst.img.pullImage({ image: { image: fifo } });
  const started = Date.now();
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('fifo', fifo, ['true'], sc({ runAsUser: { value: 0n } })) }), {
    message: /INVALID_ARGUMENT.*\/etc\/passwd is not a regular file/,
  });
  t.true(Date.now() - started < 5000);
  await inst.img.removeImage({ image: { image: fifo } });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

for (const handler of ['runc', 'crun-v1']) {
  test.serial(`seccomp with ${handler}: RuntimeDefault filters, Localhost blocks chmod, Unconfined and privileged run without`, async (t) => {
    const profiles = path.join(inst.dir, `seccomp-${handler}`);
    mkdirSync(profiles, { recursive: true });
    const blockChmod = path.join(profiles, 'block-chmod.json');
    writeFileSync(blockChmod, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO' }] }));
    const { podSandboxId } = await pod(`seccomp-${handler}`, { handler });
    const seccomp = (profileType: SecurityProfile_ProfileType, localhostRef = '') => ({ seccomp: { profileType, localhostRef } });

    const def = await run(podSandboxId, 'default', busybox, sc(seccomp(SecurityProfile_ProfileType.RuntimeDefault)));
    t.regex((await exec(def, ['grep', 'Seccomp:', '/proc/self/status'])).stdout, /Seccomp:\s+2/);
    // Ordinary work still runs under it: fork, pipes, files, signals.
    const work = await exec(def, ['sh', '-c', 'echo hi | tr a-z A-Z > /tmp/x && cat /tmp/x && sleep 0.1 & wait; chmod 600 /tmp/x && ls -l /tmp/x | cut -c1-10']);
    t.is(work.code, 0, work.stderr);
    t.is(work.stdout, 'HI\n-rw-------\n');

    const local = await run(podSandboxId, 'local', busybox, sc(seccomp(SecurityProfile_ProfileType.Localhost, blockChmod)));
    const denied = await exec(local, ['chmod', '400', '/']);
    t.not(denied.code, 0);
    t.regex(denied.stderr, /Operation not permitted/);

    const unconfined = await run(podSandboxId, 'unconfined', busybox, sc(seccomp(SecurityProfile_ProfileType.Unconfined)));
    t.regex((await exec(unconfined, ['grep', 'Seccomp:', '/proc/self/status'])).stdout, /Seccomp:\s+0/);
    const priv = await run(podSandboxId, 'priv', busybox, sc({ privileged: true, ...seccomp(SecurityProfile_ProfileType.Localhost, blockChmod) }));
    t.is((await exec(priv, ['chmod', '755', '/tmp'])).code, 0, 'privileged containers ignore seccomp');

    await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('missing', busybox, ['true'], sc(seccomp(SecurityProfile_ProfileType.Localhost, path.join(profiles, 'nope.json')))) }), {
      message: /FAILED_PRECONDITION.*nope\.json cannot be loaded: no such file/,
    });
    writeFileSync(path.join(profiles, 'bad.json'), '{"defaultAction": 7}');
    await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('bad', busybox, ['true'], sc(seccomp(SecurityProfile_ProfileType.Localhost, path.join(profiles, 'bad.json')))) }), {
      message: /INVALID_ARGUMENT.*defaultAction/,
    });
    await inst.rt.removePodSandbox({ podSandboxId });
    t.deepEqual(inst.leaks(), []);
  });
}

test.serial('mount propagation: bidirectional needs a shared host mount, and then propagates both ways', async (t) => {
  const base = path.join(inst.dir, `prop-${randomBytes(2).toString('hex')}`);
  const priv = path.join(base, 'private');
  const shared = path.join(base, 'shared');
  mkdirSync(priv, { recursive: true });
  mkdirSync(path.join(shared, 'from-container'), { recursive: true });
  mkdirSync(path.join(shared, 'from-host'), { recursive: true });
  const { podSandboxId } = await pod('prop');
  const mount = (hostPath: string, propagation: MountPropagation) => ({ mounts: [{ hostPath, containerPath: '/m', propagation }], ...sc({ privileged: true }) });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('bidi-private', busybox, ['true'], mount(priv, MountPropagation.PROPAGATION_BIDIRECTIONAL)) }), {
    message: /FAILED_PRECONDITION.*private.* is mounted on "\/.*" but it is not a shared mount/,
  });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('h2c-private', busybox, ['true'], mount(priv, MountPropagation.PROPAGATION_HOST_TO_CONTAINER)) }), {
    message: /FAILED_PRECONDITION.*not a shared or slave mount/,
  });
  // Our own shared mount (the host's / is left alone).
  execFileSync('mount', ['--bind', shared, shared]);
  try {
    execFileSync('mount', ['--make-rshared', shared]);
    const id = await run(podSandboxId, 'bidi', busybox, mount(shared, MountPropagation.PROPAGATION_BIDIRECTIONAL));
    t.is((await exec(id, ['mount', '-t', 'tmpfs', 'tmpfs', '/m/from-container'])).code, 0);
    await sleep(50);
    t.true(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path.join(shared, 'from-container')} `), 'the container\'s mount reached the host');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(shared, 'from-host')]);
    writeFileSync(path.join(shared, 'from-host', 'flag'), 'x');
    t.is((await exec(id, ['cat', '/m/from-host/flag'])).stdout, 'x');
    const st = (await inst.rt.containerStatus({ containerId: id })).status!;
    t.is(st.mounts[0]!.propagation, MountPropagation.PROPAGATION_BIDIRECTIONAL);
    await inst.rt.removePodSandbox({ podSandboxId });
  } finally {
    for (const m of ['from-host', 'from-container']) native.unmount(path.join(shared, m));
    native.unmount(shared);
  }
  t.deepEqual(inst.leaks(), []);
});

test.serial('image volumes: read-only overlay of the image, sub paths without symlinks, digest in ContainerStatus, unmounted on removal', async (t) => {
  const { podSandboxId } = await pod('imgvol');
  const imageId = (await inst.img.imageStatus({ image: { image: named } })).image!.id;
  const vol = (containerPath: string, extra: Record<string, unknown> = {}) => ({ containerPath, readonly: true, image: { image: named }, ...extra });
  const id = await run(podSandboxId, 'vol', busybox, { mounts: [vol('/v'), vol('/etcv', { imageSubPath: 'etc' })] });
  t.is((await exec(id, ['/v/bin/sh', '-c', 'echo exec-from-volume'])).stdout, 'exec-from-volume\n');
  t.regex((await exec(id, ['cat', '/etcv/passwd'])).stdout, /^app:x:1234/m);
  const write = await exec(id, ['touch', '/v/new']);
  t.not(write.code, 0);
  t.regex(write.stderr, /Read-only file system/);
  const st = (await inst.rt.containerStatus({ containerId: id })).status!;
  t.deepEqual(st.mounts.map((m) => [m.containerPath, m.image?.imageRef]), [['/v', imageId], ['/etcv', imageId]]);
  await t.throwsAsync(inst.img.removeImage({ image: { image: named } }), { message: /in use|FAILED_PRECONDITION/ }, 'an image mounted as a volume is in use');

  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [vol('/x', { readonly: false }), /INVALID_ARGUMENT.*must be read-only/],
    [vol('/x', { imageSubPath: 'nope' }), /INVALID_ARGUMENT.*"nope" does not exist in the image/],
    [vol('/x', { imageSubPath: '../etc' }), /INVALID_ARGUMENT.*without '\.\.'/],
    [vol('/x', { imageSubPath: 'data' }), /INVALID_ARGUMENT.*"data" is a symlink/],
    [vol('/x', { imageSubPath: 'data/passwd' }), /INVALID_ARGUMENT.*without following a symlink/],
    [{ containerPath: '/x', readonly: true, image: { image: 'sha256:0000000000000000000000000000000000000000000000000000000000000000' } }, /NOT_FOUND.*pull it first/],
  ];
  for (const [m, re] of bad) {
    await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('bad-vol', busybox, ['true'], { mounts: [m] }) }), { message: re });
  }
  await inst.rt.removeContainer({ containerId: id });
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes('imagevols'), 'volumes unmounted with their container');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('image volumes across a kill -9: kept while the container lives, gone with it; an orphaned bundle is swept at start-up', async (t) => {
  const { podSandboxId } = await pod('imgvol-crash');
  const { containerId } = await inst.rt.createContainer({
    podSandboxId, config: containerConfig('vol', busybox, ['sleep', '3600'], { mounts: [{ containerPath: '/v', readonly: true, image: { image: named } }] }),
  });
  await inst.restart(true);
  await inst.rt.startContainer({ containerId });
  t.is((await exec(containerId, ['ls', '/v/etc/passwd'])).code, 0);
  // What a crash between mounting and saving the record leaves (made for real while
  // berthd is down: no record, a bundle with a read-only overlay mounted in it).
  await inst.stop();
  const orphan = path.join(inst.runtimeDir, 'containers', randomBytes(32).toString('hex'));
  const lower = [path.join(orphan, 'l1'), path.join(orphan, 'l2')];
  for (const d of [...lower, path.join(orphan, 'imagevols', '0')]) mkdirSync(d, { recursive: true });
  await native.mountOverlayReadonly(lower, path.join(orphan, 'imagevols', '0'));
  await inst.restart();
  await inst.waitForLog(/removed a container bundle no record owns/);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(orphan));
  t.is((await inst.rt.containerStatus({ containerId })).status!.state, ContainerState.CONTAINER_RUNNING);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('devices: a CRI device with its permissions; privileged containers get the host devices', async (t) => {
  const { podSandboxId } = await pod('devices');
  // /dev/loop0 (b 7:0), which runc does not allow by default (it does /dev/null & co).
  const id = await run(podSandboxId, 'dev', busybox, { devices: [{ hostPath: '/dev/loop0', containerPath: '/dev/xloop', permissions: 'r' }] });
  t.regex((await exec(id, ['ls', '-l', '/dev/xloop'])).stdout, /^b.* 7, +0 /);
  t.is((await exec(id, ['dd', 'if=/dev/xloop', 'of=/dev/null', 'count=0'])).code, 0, 'readable');
  const w = await exec(id, ['sh', '-c', ': > /dev/xloop']);
  t.not(w.code, 0, 'not writable: the device cgroup allows only "r"');
  t.regex(w.stderr, /Operation not permitted/);
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('notdev', busybox, ['true'], { devices: [{ hostPath: '/etc/hostname', containerPath: '/dev/x', permissions: 'rw' }] }) }), {
    message: /INVALID_ARGUMENT.*not a character or block device/,
  });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('badperm', busybox, ['true'], { devices: [{ hostPath: '/dev/null', containerPath: '/dev/x', permissions: 'rwx' }] }) }), {
    message: /INVALID_ARGUMENT.*subset of "rwm"/,
  });
  const priv = await run(podSandboxId, 'priv', busybox, sc({ privileged: true }));
  t.is((await exec(priv, ['ls', '/dev/loop-control'])).code, 0, 'a host device in a privileged container');
  t.not((await exec(id, ['ls', '/dev/loop-control'])).code, 0, 'but not in an unprivileged one');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('/dev/shm is one 64 MiB tmpfs per pod, shared by its containers, gone with the pod', async (t) => {
  const { podSandboxId } = await pod('shm');
  const a = await run(podSandboxId, 'a', busybox);
  const b = await run(podSandboxId, 'b', busybox);
  t.is((await exec(a, ['sh', '-c', 'echo shared > /dev/shm/x'])).code, 0);
  t.is((await exec(b, ['cat', '/dev/shm/x'])).stdout, 'shared\n');
  t.regex((await exec(b, ['df', '-k', '/dev/shm'])).stdout, /\s65536\s/);
  t.regex((await exec(b, ['grep', ' /dev/shm ', '/proc/self/mounts'])).stdout, /tmpfs .*nosuid,nodev,noexec/);
  const other = await pod('shm-other');
  const c = await run(other.podSandboxId, 'c', busybox);
  t.not((await exec(c, ['cat', '/dev/shm/x'])).code, 0, 'another pod has its own');
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId: other.podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('image VOLUMEs become directories in the writable layer, never through a symlink; no working dir under /proc', async (t) => {
  const { podSandboxId } = await pod('volumes');
  const vols = await pushImage('image-volumes', { layers: [...base], config: { Volumes: { '/data/db': {}, '/covered': {} } } });
  const escape = await pushImage('image-volume-escape', {
    layers: [...base, layer([{ name: 'out', type: 'symlink', linkname: '/tmp' }])],
    config: { Volumes: { '/out/berth-volume-escape': {} } },
  });
  const badWd = await pushImage('image-wd-proc', { layers: [...base], config: { WorkingDir: '/proc/self/fd/7' } });
  for (const image of [vols, escape, badWd]) await inst.img.pullImage({ image: { image } });
  const id = await run(podSandboxId, 'vols', vols, { mounts: [{ hostPath: inst.logDir, containerPath: '/covered' }] });
  t.is((await exec(id, ['sh', '-c', 'test -d /data/db && touch /data/db/f && echo ok'])).stdout, 'ok\n');
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('escape', escape, ['true']) }), {
    message: /INVALID_ARGUMENT.*image VOLUME "\/out\/berth-volume-escape" cannot be created.*symbolic links/,
  });
  t.throws(() => readFileSync('/tmp/berth-volume-escape'), undefined, 'nothing was made on the host');
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('wd', badWd, ['true']) }), { message: /INVALID_ARGUMENT.*WorkingDir .* under \/proc/ });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('wd2', busybox, ['true'], { workingDir: '/proc/1/cwd' }) }), { message: /INVALID_ARGUMENT.*under \/proc/ });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('env', busybox, ['true'], { envs: [{ key: 'A\nB', value: Buffer.from('x') }] }) }), { message: /INVALID_ARGUMENT.*envs: key/ });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('env0', busybox, ['true'], { envs: [{ key: 'A', value: Buffer.from('x\0y') }] }) }), { message: /INVALID_ARGUMENT.*NUL/ });
  await inst.rt.removePodSandbox({ podSandboxId });
  for (const image of [vols, escape, badWd]) await inst.img.removeImage({ image: { image } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('AppArmor: a Localhost profile on a node without AppArmor is FAILED_PRECONDITION; SELinux options are ignored there', async (t) => {
  const apparmorOn = (() => {
    try {
      return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    } catch {
      return false;
    }
  })();
  if (apparmorOn) return t.pass('this node runs AppArmor: the refusal cannot be shown here');
  const { podSandboxId } = await pod('lsm');
  await t.throwsAsync(
    inst.rt.createContainer({ podSandboxId, config: containerConfig('aa', busybox, ['true'], sc({ apparmor: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: 'k8s-x' } })) }),
    { message: /FAILED_PRECONDITION.*AppArmor profile "k8s-x" asked for, but AppArmor is not enabled/ },
  );
  const id = await run(podSandboxId, 'se', busybox, sc({ selinuxOptions: { type: 'spc_t', level: 's0' } }));
  t.is((await inst.rt.containerStatus({ containerId: id })).status!.state, ContainerState.CONTAINER_RUNNING);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('recursive read-only mounts (runc and crun-v1): submounts read-only too, host submounts still removable; only readonly + private', async (t) => {
  const host = path.join(inst.dir, `rro-${randomBytes(2).toString('hex')}`);
  const sub = path.join(host, 'tmpfs');
  mkdirSync(sub, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', sub]);
  try {
    const status = await inst.rt.status({});
    t.true(status.runtimeHandlers.every((h) => h.features?.recursiveReadOnlyMounts));
    const m = (extra: Record<string, unknown>) => ({ mounts: [{ hostPath: host, containerPath: '/mnt', readonly: true, ...extra }] });
    for (const handler of ['runc', 'crun-v1']) {
      const { podSandboxId } = await pod(`rro-${handler}`, { handler });
      const plain = await run(podSandboxId, 'ro', busybox, m({}));
      t.is((await exec(plain, ['touch', `/mnt/tmpfs/${handler}`])).code, 0, 'a plain read-only bind leaves submounts writable');
      const rro = await run(podSandboxId, 'rro', busybox, m({ recursiveReadOnly: true }));
      const w = await exec(rro, ['touch', '/mnt/tmpfs/foo']);
      t.not(w.code, 0, handler);
      t.regex(w.stderr, /Read-only file system/);
      t.is((await exec(rro, ['cat', `/mnt/tmpfs/${handler}`])).code, 0, 'still readable');
      for (const [extra, re] of [
        [{ recursiveReadOnly: true, readonly: false }, /needs readonly/],
        [{ recursiveReadOnly: true, propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER }, /needs PROPAGATION_PRIVATE/],
      ] as const) {
        await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('bad-rro', busybox, ['true'], m(extra)) }), { message: new RegExp(`INVALID_ARGUMENT.*${re.source}`) });
      }
      await inst.rt.removePodSandbox({ podSandboxId });
    }
    // The trees were made read-only in the containers' namespaces, not the host's: the host
    // can take its submount away while a container holds the bind (critest does).
    const { podSandboxId } = await pod('rro-host');
    await run(podSandboxId, 'rro', busybox, m({ recursiveReadOnly: true }));
    native.unmount(sub);
    t.notThrows(() => execFileSync('rmdir', [sub]));
    await inst.rt.removePodSandbox({ podSandboxId });
  } finally {
    native.unmount(sub);
  }
  t.deepEqual(inst.leaks(), []);
});
