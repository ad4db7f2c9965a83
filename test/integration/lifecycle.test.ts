// The whole path through the CRI gRPC API on real parts: registry pull, pinned
// namespaces, CNI bridge, overlay rootfs, berth-monitor, runc — then nothing left behind.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ContainerState, PodSandboxState } from '../../src/gen/runtime/v1/api.js';
import { native } from '../../src/native/index.js';
import { busybox, busyboxLayered, busyboxV2s2, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
});
test.after.always(async () => {
  await inst?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test.serial('Version names berth and CRI v1', async (t) => {
  const v = await inst.rt.version({});
  t.is(v.runtimeName, 'berth');
  t.is(v.runtimeApiVersion, 'v1');
});

test.serial('pull → run pod → create → start → logs → exec → stop → remove, with runc', async (t) => {
  const pulled = await inst.img.pullImage({ image: { image: busybox } });
  t.regex(pulled.imageRef, /^sha256:[a-f0-9]{64}$/);
  const listed = await inst.img.listImages({});
  t.true(listed.images.some((i) => i.id === pulled.imageRef && i.repoTags.includes(busybox)));
  const st = await inst.img.imageStatus({ image: { image: busybox } });
  t.is(st.image?.id, pulled.imageRef);
  t.true(st.image!.repoDigests[0]!.startsWith(`${busybox.replace(/:latest$/, '')}@sha256:`));

  const podCfg = podConfig('life', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const ps = await inst.rt.podSandboxStatus({ podSandboxId });
  t.is(ps.status?.state, PodSandboxState.SANDBOX_READY);
  const ip = ps.status!.network!.ip;
  t.regex(ip, /^10\.\d+\.\d+\.\d+$/);

  const cfg = containerConfig('app', busybox, ['/bin/sh', '-c', 'echo out-line; echo err-line >&2; printf partial; sleep 1000'], {
    envs: [{ key: 'GREETING', value: Buffer.from('hi') }],
  });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: cfg, sandboxConfig: podCfg });
  t.is((await inst.rt.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_CREATED);
  await inst.rt.startContainer({ containerId });
  const cs = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(cs.state, ContainerState.CONTAINER_RUNNING);
  t.true(cs.startedAt > cs.createdAt);
  t.is(cs.logPath, path.join(inst.logDir, 'app.log'));

  const log = await waitFor('log lines', async () => {
    const text = readFileSync(cs.logPath, 'utf8');
    return text.includes('partial') ? text : undefined;
  });
  const lines = log.trim().split('\n');
  const re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$/;
  t.true(lines.every((l) => re.test(l)), log);
  t.true(lines.some((l) => / stdout F out-line$/.test(l)));
  t.true(lines.some((l) => / stderr F err-line$/.test(l)));
  t.true(lines.some((l) => / stdout P partial$/.test(l)));

  const ex = await inst.rt.execSync({ containerId, cmd: ['sh', '-c', 'hostname; echo $GREETING; ip -o -4 addr show eth0; exit 3'], timeout: 10n });
  t.is(ex.exitCode, 3);
  const out = Buffer.from(ex.stdout).toString();
  t.true(out.startsWith('life\nhi\n'), out);
  t.true(out.includes(`inet ${ip}/24`), out);

  await t.throwsAsync(inst.rt.execSync({ containerId, cmd: ['sleep', '30'], timeout: 1n }), { message: /DEADLINE_EXCEEDED|timed out/ });
  const procs = Buffer.from((await inst.rt.execSync({ containerId, cmd: ['ps', '-o', 'stat,comm'], timeout: 10n })).stdout).toString();
  t.false(/\bZ\s/.test(procs), `a timed-out exec left a zombie:\n${procs}`);

  // sh as PID 1 ignores SIGTERM: Stop must escalate to SIGKILL after the timeout.
  const t0 = Date.now();
  await inst.rt.stopContainer({ containerId, timeout: 1n });
  t.true(Date.now() - t0 >= 900);
  const stopped = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(stopped.state, ContainerState.CONTAINER_EXITED);
  t.is(stopped.exitCode, 137);
  t.is(stopped.reason, 'Error');
  t.true(stopped.finishedAt >= stopped.startedAt);
  await inst.rt.stopContainer({ containerId, timeout: 1n }); // idempotent

  const listed2 = await inst.rt.listContainers({ filter: { podSandboxId } });
  t.deepEqual(listed2.containers.map((c) => c.id), [containerId]);
  await inst.rt.removeContainer({ containerId });
  await inst.rt.removeContainer({ containerId }); // idempotent
  await t.throwsAsync(inst.rt.containerStatus({ containerId }), { message: /NOT_FOUND/ });

  await inst.rt.stopPodSandbox({ podSandboxId });
  t.is((await inst.rt.podSandboxStatus({ podSandboxId })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
  await inst.rt.stopPodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual((await inst.rt.listPodSandbox({})).items, []);
  await inst.img.removeImage({ image: { image: busybox } });
  t.is((await inst.img.imageStatus({ image: { image: busybox } })).image, undefined);
  t.deepEqual(inst.leaks(), []);
});

test.serial('a container that exits on its own reports its exit code; a Docker schema2 image works', async (t) => {
  await inst.img.pullImage({ image: { image: busyboxV2s2 } });
  const podCfg = podConfig('exit', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({
    podSandboxId,
    config: containerConfig('seven', busyboxV2s2, ['sh', '-c', 'echo bye; exit 7']),
    sandboxConfig: podCfg,
  });
  await inst.rt.startContainer({ containerId });
  const st = await waitFor('exit', async () => {
    const s = (await inst.rt.containerStatus({ containerId })).status!;
    return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
  });
  t.is(st.exitCode, 7);
  t.is(st.reason, 'Error');
  // RemovePodSandbox alone removes the pod's containers too.
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual((await inst.rt.listContainers({})).containers, []);
  await inst.img.removeImage({ image: { image: busyboxV2s2 } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a container created the kubelet\'s way (by image ID, with user_specified_image) reports the image name it was asked for', async (t) => {
  const { imageRef } = await inst.img.pullImage({ image: { image: busybox } });
  const podCfg = podConfig('by-id', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const cfg = containerConfig('by-id', busybox, ['sleep', '60'], { image: { image: imageRef, userSpecifiedImage: busybox } });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: cfg, sandboxConfig: podCfg });
  const st = (await inst.rt.containerStatus({ containerId })).status!;
  // The kubelet puts status.image into the pod's status and compares it with the spec.
  t.is(st.image!.image, busybox);
  t.is(st.imageId, imageRef);
  // Without user_specified_image (an older kubelet, or crictl by ID): the image's tag.
  const cfg2 = containerConfig('by-id-2', busybox, ['sleep', '60'], { image: { image: imageRef } });
  const second = await inst.rt.createContainer({ podSandboxId, config: cfg2, sandboxConfig: podCfg });
  t.is((await inst.rt.containerStatus({ containerId: second.containerId })).status!.image!.image, busybox);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('crun under hybrid cgroups is reported with its reason; crun on a v1-only view runs pods', async (t) => {
  const status = await inst.rt.status({ verbose: true });
  const handlers = JSON.parse(status.info.runtimeHandlers!) as Record<string, { ready: boolean; reason?: string }>;
  t.true(handlers.runc!.ready);
  t.true(handlers['crun-v1']!.ready, handlers['crun-v1']!.reason);
  const hybrid = readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  if (hybrid) {
    t.false(handlers.crun!.ready);
    t.regex(handlers.crun!.reason!, /hybrid/);
    t.regex(status.status!.conditions.find((c) => c.type === 'RuntimeReady')!.message, /crun/);
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('nocrun'), runtimeHandler: 'crun' }), { message: /FAILED_PRECONDITION.*hybrid/ });
  }
  t.false(status.runtimeHandlers.some((h) => h.name === 'crun') && hybrid);

  await inst.img.pullImage({ image: { image: busybox } });
  const podCfg = podConfig('crunpod', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg, runtimeHandler: 'crun-v1' });
  const { containerId } = await inst.rt.createContainer({
    podSandboxId,
    config: containerConfig('c', busybox, ['sh', '-c', 'echo via-crun; sleep 1000']),
    sandboxConfig: podCfg,
  });
  await inst.rt.startContainer({ containerId });
  const ex = await inst.rt.execSync({ containerId, cmd: ['cat', '/etc/hostname'], timeout: 10n });
  t.is(Buffer.from(ex.stdout).toString(), 'crunpod\n');
  await waitFor('crun log', async () => (readFileSync(path.join(inst.logDir, 'c.log'), 'utf8').includes('via-crun') ? true : undefined));
  await inst.rt.stopPodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image: busybox } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('containers of a PID-sharing pod (the default) share one namespace with the built-in pause as PID 1', async (t) => {
  await inst.img.pullImage({ image: { image: busybox } });
  const podCfg = { ...podConfig('shared', { logDirectory: inst.logDir }), linux: {} };
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const ids: string[] = [];
  for (const name of ['a', 'b']) {
    const cfg = { ...containerConfig(name, busybox, ['sleep', name === 'a' ? '1001' : '1002']), linux: {} };
    const { containerId } = await inst.rt.createContainer({ podSandboxId, config: cfg, sandboxConfig: podCfg });
    await inst.rt.startContainer({ containerId });
    ids.push(containerId);
  }
  const ps = Buffer.from((await inst.rt.execSync({ containerId: ids[1]!, cmd: ['ps', '-o', 'pid,args'], timeout: 10n })).stdout).toString();
  t.regex(ps, /^\s*1\s.*\bberth-pause pause --pod-dir /m);
  t.regex(ps, /sleep 1001/);
  t.regex(ps, /sleep 1002/);
  await inst.rt.stopPodSandbox({ podSandboxId });
  t.false(inst.leaks().some((l) => l.includes('pause')), 'pause must be gone after StopPodSandbox');
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image: busybox } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a running container outlives a berthd restart (SIGTERM and kill -9); its exit is still recorded', async (t) => {
  await inst.img.pullImage({ image: { image: busybox } });
  const podCfg = podConfig('survive', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({
    podSandboxId,
    config: containerConfig('c', busybox, ['sh', '-c', 'trap "exit 42" TERM; echo up; while true; do sleep 0.1; done']),
  });
  await inst.rt.startContainer({ containerId });
  for (const kill of [false, true]) {
    await inst.restart(kill);
    const st = (await inst.rt.containerStatus({ containerId })).status!;
    t.is(st.state, ContainerState.CONTAINER_RUNNING, `after ${kill ? 'kill -9' : 'SIGTERM'}`);
    const ex = await inst.rt.execSync({ containerId, cmd: ['echo', 'still here'], timeout: 10n });
    t.is(Buffer.from(ex.stdout).toString(), 'still here\n');
    t.is((await inst.rt.podSandboxStatus({ podSandboxId })).status?.state, PodSandboxState.SANDBOX_READY);
  }
  await inst.rt.stopContainer({ containerId, timeout: 10n });
  const st = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(st.exitCode, 42);
  t.regex(readFileSync(path.join(inst.logDir, 'c.log'), 'utf8'), /stdout F up/);
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image: busybox } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a two-layer image: whiteouts hide lower files, the shared base layer is stored once and kept while used', async (t) => {
  const layers = () => readdirSync(path.join(inst.root, 'layers'));
  await inst.img.pullImage({ image: { image: busybox } });
  t.is(layers().length, 1);
  await inst.img.pullImage({ image: { image: busyboxLayered } });
  t.is(layers().length, 2, 'the base layer is shared, not fetched twice');
  const podCfg = podConfig('layers', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busyboxLayered, ['sleep', '1000']) });
  await inst.rt.startContainer({ containerId });
  const r = await inst.rt.execSync({
    containerId,
    cmd: ['sh', '-c', 'test -e /var/www/index.html && echo present || echo whiteout; cat /data/marker; ls /tmp'],
    timeout: 10n,
  });
  t.is(Buffer.from(r.stdout).toString(), 'whiteout\nlayered\nonly-in-top\n');
  await t.throwsAsync(inst.img.removeImage({ image: { image: busyboxLayered } }), { message: /FAILED_PRECONDITION.*in use/ });
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image: busyboxLayered } });
  t.is(layers().length, 1, 'the base layer stays while busybox uses it');
  await inst.img.removeImage({ image: { image: busybox } });
  t.deepEqual(layers(), []);
  t.deepEqual(inst.leaks(), []);
});

test.serial('host-network pods skip CNI and share the host network and hostname', async (t) => {
  await inst.img.pullImage({ image: { image: busybox } });
  const podCfg = podConfig('hostnet', { linux: { securityContext: { namespaceOptions: { network: 2, pid: 1 } } } });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  t.is((await inst.rt.podSandboxStatus({ podSandboxId })).status?.network?.ip, '');
  const cfg = containerConfig('c', busybox, ['sleep', '1000']);
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: { ...cfg, linux: { securityContext: { namespaceOptions: { network: 2, pid: 1 } } } } });
  await inst.rt.startContainer({ containerId });
  const r = await inst.rt.execSync({ containerId, cmd: ['sh', '-c', 'hostname; ls /sys/class/net'], timeout: 10n });
  const [hostname, ...ifaces] = Buffer.from(r.stdout).toString().trim().split('\n');
  t.is(hostname, readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  // The host's default-route interface is visible: this is the host's network namespace.
  const defIface = readFileSync('/proc/net/route', 'utf8').split('\n').map((l) => l.split('\t')).find((f) => f[1] === '00000000')?.[0];
  t.truthy(defIface);
  t.true(ifaces.includes(defIface!), `${defIface} not in ${ifaces.join(' ')}`);
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image: busybox } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a kubelet-style cgroup_parent is used as the pod cgroup and left to its owner', async (t) => {
  await inst.img.pullImage({ image: { image: busybox } });
  const parent = `${inst.cgroupRoot}-kubepods/pod-x`;
  native.cgroupCreate(parent);
  try {
    const podCfg = podConfig('kubecg', { linux: { cgroupParent: parent, securityContext: { namespaceOptions: { pid: 1 } } } });
    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
    const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '1000']) });
    await inst.rt.startContainer({ containerId });
    const r = await inst.rt.execSync({ containerId, cmd: ['grep', 'memory', '/proc/1/cgroup'], timeout: 10n });
    t.regex(Buffer.from(r.stdout).toString(), new RegExp(`:memory:${parent}/berth-${containerId}`));
    await inst.rt.removePodSandbox({ podSandboxId });
    t.true(native.cgroupExisting(parent).length > 0, 'the kubelet\'s cgroup is not berth\'s to remove');
    t.deepEqual(inst.leaks(), []);
  } finally {
    native.cgroupRemove(`${inst.cgroupRoot}-kubepods`);
    await inst.img.removeImage({ image: { image: busybox } });
  }
});
