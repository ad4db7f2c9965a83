// Bad input gets the right gRPC code, and failures half-way leave nothing behind.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CgroupDriver, ContainerState } from '../../src/gen/runtime/v1/api.js';
import { busybox, containerConfig, type Instance, podConfig, registry, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

test.serial('unknown IDs are NOT_FOUND; removing unknown things succeeds (idempotent)', async (t) => {
  const id = 'f'.repeat(64);
  await t.throwsAsync(inst.rt.podSandboxStatus({ podSandboxId: id }), { message: /^5 NOT_FOUND: pod sandbox f+ not found/ });
  await t.notThrowsAsync(inst.rt.stopPodSandbox({ podSandboxId: id }), 'stopping an unknown pod succeeds (critest Idempotence)');
  await t.throwsAsync(inst.rt.containerStatus({ containerId: id }), { message: /NOT_FOUND/ });
  await t.throwsAsync(inst.rt.startContainer({ containerId: id }), { message: /NOT_FOUND/ });
  await t.notThrowsAsync(inst.rt.stopContainer({ containerId: id }), 'stopping an unknown container succeeds (critest Idempotence)');
  await t.throwsAsync(inst.rt.execSync({ containerId: id, cmd: ['true'] }), { message: /NOT_FOUND/ });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId: id, config: containerConfig('x', busybox, ['true']) }), { message: /NOT_FOUND/ });
  await inst.rt.removePodSandbox({ podSandboxId: id });
  await inst.rt.removeContainer({ containerId: id });
  await inst.img.removeImage({ image: { image: `${registry}/nothing:here` } });
  t.is((await inst.img.imageStatus({ image: { image: `${registry}/nothing:here` } })).image, undefined);
});

test.serial('missing required fields are INVALID_ARGUMENT', async (t) => {
  await t.throwsAsync(inst.rt.runPodSandbox({}), { message: /INVALID_ARGUMENT/ });
  await t.throwsAsync(inst.rt.runPodSandbox({ config: { metadata: { name: 'x' } } }), { message: /INVALID_ARGUMENT.*metadata/ });
  await t.throwsAsync(inst.img.pullImage({}), { message: /INVALID_ARGUMENT/ });
  await t.throwsAsync(inst.img.pullImage({ image: { image: 'UPPER/Case::bad' } }), { message: /INVALID_ARGUMENT/ });
  await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('h'), runtimeHandler: 'nope' }), { message: /INVALID_ARGUMENT.*nope/ });
  await t.throwsAsync(
    inst.rt.runPodSandbox({ config: podConfig('sysctl', { linux: { sysctls: { 'kernel.core_pattern': '|/x' } } }) }),
    { message: /INVALID_ARGUMENT.*kernel.core_pattern/ },
  );
  const podCfg = podConfig('fields', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: { metadata: { name: 'noimage' } } }), { message: /INVALID_ARGUMENT.*image/ });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: { image: { image: busybox } } }), { message: /INVALID_ARGUMENT.*metadata/ });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId }), { message: /INVALID_ARGUMENT/ });
  await t.throwsAsync(
    inst.rt.createContainer({ podSandboxId, config: containerConfig('esc', busybox, ['true'], { logPath: '../../escape.log' }) }),
    { message: /INVALID_ARGUMENT.*escapes/ },
  );
  await t.throwsAsync(inst.rt.execSync({ containerId: 'x'.repeat(3) }), { message: /NOT_FOUND|INVALID_ARGUMENT/ });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a duplicate pod or container name is ALREADY_EXISTS, never two objects', async (t) => {
  const podCfg = podConfig('dup');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  await t.throwsAsync(inst.rt.runPodSandbox({ config: podCfg }), { message: /ALREADY_EXISTS/ });
  t.is((await inst.rt.listPodSandbox({})).items.filter((p) => p.metadata?.name === 'dup').length, 1);
  const cfg = containerConfig('same', busybox, ['sleep', '1000']);
  await inst.rt.createContainer({ podSandboxId, config: cfg });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: cfg }), { message: /ALREADY_EXISTS/ });
  t.is((await inst.rt.listContainers({ filter: { podSandboxId } })).containers.length, 1);
  // Names that would collide if joined with a separator are still two names.
  const a = await inst.rt.runPodSandbox({ config: { ...podCfg, metadata: { ...podCfg.metadata, name: 'x_y', namespace: 'z' } } });
  const b = await inst.rt.runPodSandbox({ config: { ...podCfg, metadata: { ...podCfg.metadata, name: 'x', namespace: 'y_z' } } });
  await inst.rt.removePodSandbox({ podSandboxId: a.podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId: b.podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  // Once removed, the names are free again.
  const again = await inst.rt.runPodSandbox({ config: podCfg });
  await inst.rt.removePodSandbox({ podSandboxId: again.podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('an unreachable registry is UNAVAILABLE; a missing image is NOT_FOUND', async (t) => {
  await t.throwsAsync(inst.img.pullImage({ image: { image: '127.0.0.1:1/busybox:latest' } }), { message: /UNAVAILABLE.*unreachable/ });
  await t.throwsAsync(inst.img.pullImage({ image: { image: `${registry}/no-such-image:1` } }), { message: /NOT_FOUND/ });
  const podCfg = podConfig('noimg');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig('c', `${registry}/absent:1`, ['true']) }), { message: /NOT_FOUND.*pull/ });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a CreateContainer that fails in the runtime rolls back mount, bundle and name', async (t) => {
  const podCfg = podConfig('rollback');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const bad = containerConfig('c', busybox, ['sleep', '1000'], { mounts: [{ containerPath: '/data', hostPath: path.join(inst.dir, 'does-not-exist') }] });
  await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: bad }), { message: /create container c/ });
  const ctrDir = path.join(inst.runtimeDir, 'containers');
  t.deepEqual(existsSync(ctrDir) ? readdirSync(ctrDir) : [], []);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(path.join(inst.runtimeDir, 'containers')));
  // The name was released: the same name with a good config now works.
  const good = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '1000']) });
  t.truthy(good.containerId);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a StartContainer the runtime refuses (a file bound over a directory) fails with its reason; the container is EXITED with StartError and removable without leaks', async (t) => {
  const podCfg = podConfig('starterr');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const file = path.join(inst.dir, 'a-file');
  writeFileSync(file, 'not a directory');
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '1000'], { mounts: [{ containerPath: '/etc', hostPath: file }] }) });
  await t.throwsAsync(inst.rt.startContainer({ containerId }), { message: /start container .*not a directory/ });
  const st = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(st.state, ContainerState.CONTAINER_EXITED);
  t.is(st.reason, 'StartError');
  t.is(st.exitCode, 128);
  t.regex(st.message, /not a directory/);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('oom_score_adj below berthd\'s own is clamped (root lacks CAP_SYS_RESOURCE here)', async (t) => {
  const own = Number(readFileSync(`/proc/${inst.proc.pid}/oom_score_adj`, 'utf8'));
  const podCfg = podConfig('oom');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const cfg = containerConfig('c', busybox, ['sleep', '1000']);
  const { containerId } = await inst.rt.createContainer({
    podSandboxId,
    config: { ...cfg, linux: { ...cfg.linux, resources: { oomScoreAdj: -998n } } },
  });
  await inst.rt.startContainer({ containerId });
  const r = await inst.rt.execSync({ containerId, cmd: ['cat', '/proc/1/oom_score_adj'], timeout: 10n });
  const got = Number(Buffer.from(r.stdout).toString());
  t.true(got === -998 || got === own, `got ${got}, berthd has ${own}`);
  if (got !== -998) t.regex(inst.log(), /restrict_oom_score_adj/);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('checkpoint RPCs name what is missing or unknown (they are implemented; test/integration/checkpoint.test.ts)', async (t) => {
  await t.throwsAsync(inst.rt.checkpointContainer({ containerId: 'x', location: '/tmp/x.tar' }), { message: /NOT_FOUND.*container x not found/ });
  // New in CRI v0.37.
  await t.throwsAsync(inst.rt.checkpointPod({ podSandboxId: 'x' }), { message: /NOT_FOUND.*pod sandbox x not found/ });
  await t.throwsAsync(inst.rt.restorePod({}), { message: /INVALID_ARGUMENT.*RestorePod needs a config/ });
});

test.serial('RuntimeConfig answers the cgroup driver berth drives (cgroupfs)', async (t) => {
  const r = await inst.rt.runtimeConfig({});
  t.is(r.linux?.cgroupDriver, CgroupDriver.CGROUPFS);
});

test.serial('a RunPodSandbox that fails at CNI ADD rolls back namespaces and cgroup', async (t) => {
  const confDir = path.join(inst.dir, 'net.d');
  const good = readFileSync(path.join(confDir, '10-test.conflist'), 'utf8');
  const broken = JSON.parse(good) as { plugins: Array<{ type: string }> };
  broken.plugins.push({ type: 'berth-no-such-plugin' });
  writeFileSync(path.join(confDir, '10-test.conflist'), JSON.stringify(broken));
  try {
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('cnifail') }), { message: /berth-no-such-plugin not found/ });
    const podDir = path.join(inst.runtimeDir, 'pods');
    t.deepEqual(existsSync(podDir) ? readdirSync(podDir) : [], []);
    t.deepEqual(inst.leaks(), []);
  } finally {
    writeFileSync(path.join(confDir, '10-test.conflist'), good);
  }
});

test.serial('concurrent Stop/Remove of the same container and pod all succeed, once', async (t) => {
  const podCfg = podConfig('race');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '1000']) });
  await inst.rt.startContainer({ containerId });
  await Promise.all([
    inst.rt.stopContainer({ containerId, timeout: 0n }),
    inst.rt.removeContainer({ containerId }),
    inst.rt.stopContainer({ containerId, timeout: 0n }), // idempotent even when a Remove wins the race
    inst.rt.removeContainer({ containerId }),
  ]);
  await Promise.all([inst.rt.removePodSandbox({ podSandboxId }), inst.rt.removePodSandbox({ podSandboxId }), inst.rt.stopPodSandbox({ podSandboxId })]);
  t.deepEqual((await inst.rt.listPodSandbox({})).items.filter((p) => p.id === podSandboxId), []);
  t.deepEqual(inst.leaks(), []);
});

test.serial('a command that does not exist in the image is INVALID_ARGUMENT at CreateContainer, with the reason runc gives, and rolled back', async (t) => {
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('nocmd') });
  for (const cmd of ['/no/such/binary', 'no-such-command-in-path']) {
    await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig(`c-${cmd.length}`, busybox, [cmd]) }), {
      message: /^3 INVALID_ARGUMENT: .*(no such file or directory|not found)/,
    });
  }
  t.deepEqual((await inst.rt.listContainers({ filter: { podSandboxId } })).containers, []);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
