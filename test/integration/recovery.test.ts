// Faults produced for real (a killed berth-monitor; the runtime dir lost as in a reboot):
// berth must never be left in a state the kubelet cannot get out of through the CRI.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContainerState, PodSandboxState } from '../../src/gen/runtime/v1/api.js';
import { processAlive } from '../../src/util/procfs.js';
import { busybox, containerConfig, type Instance, podConfig, repoRoot, startInstance, sweep } from '../helpers/instance.js';

let inst: Instance;
// Unique per run (PIDs wrap): a stale marker would make the test runtime not hang.
const hangMarker = path.join(os.tmpdir(), `berth-hang-${randomBytes(6).toString('hex')}.pid`);
test.before(async () => {
  inst = await startInstance({
    toml: [
      `cni_plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni", "${path.join(repoRoot, 'test', 'fixtures', 'cni-plugins')}"]`,
      '[runtimes.runc-hang]',
      `path = "${path.join(repoRoot, 'test', 'fixtures', 'runc-hang-start')}"`,
    ].join('\n'),
    env: { BERTH_TEST_HANG_MARKER: hangMarker },
  });
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  rmSync(hangMarker, { force: true });
  await inst?.cleanup();
});

async function runningContainer(name: string) {
  const podCfg = podConfig(name, { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '1000']) });
  await inst.rt.startContainer({ containerId });
  const info = JSON.parse((await inst.rt.containerStatus({ containerId, verbose: true })).info.info!) as { monitorPid: number; pid: number };
  return { podSandboxId, containerId, ...info };
}

test.serial('a container whose berth-monitor was killed can still be stopped and removed', async (t) => {
  const { podSandboxId, containerId, monitorPid } = await runningContainer('nomonitor');
  process.kill(monitorPid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  t.is((await inst.rt.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_RUNNING, 'the container itself still runs');
  await inst.rt.stopContainer({ containerId, timeout: 0n });
  const st = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(st.state, ContainerState.CONTAINER_EXITED);
  t.is(st.exitCode, 137);
  t.regex(st.message, /exit status was not observed/);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('after the runtime dir is lost (as in a reboot) pods are NOTREADY, containers EXITED, and removal releases everything', async (t) => {
  const { podSandboxId, containerId } = await runningContainer('reboot');
  await inst.stop();
  // What a reboot does to berth's world: processes, mounts and cgroups gone, /run emptied.
  sweep(inst);
  rmSync(inst.runtimeDir, { recursive: true, force: true });
  await inst.restart();
  t.is((await inst.rt.podSandboxStatus({ podSandboxId })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
  const st = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(st.state, ContainerState.CONTAINER_EXITED);
  t.is(st.reason, 'Unknown');
  await inst.rt.stopPodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual((await inst.rt.listContainers({})).containers, []);
  t.deepEqual(inst.leaks(), [], 'IP released, no records, nothing mounted');
});

test.serial('a RunPodSandbox cut short by kill -9 (in a hanging test CNI plugin) is undone at start-up', async (t) => {
  const confFile = path.join(inst.dir, 'net.d', '10-test.conflist');
  const good = readFileSync(confFile, 'utf8');
  const marker = path.join(inst.dir, 'hang.pid');
  const conf = JSON.parse(good) as { plugins: Array<Record<string, unknown>> };
  conf.plugins.push({ type: 'berth-test-hang', marker });
  writeFileSync(confFile, JSON.stringify(conf));
  let hangPid = 0;
  try {
    const pending = inst.rt.runPodSandbox({ config: podConfig('cut') }).catch((e: Error) => e);
    for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 25));
    hangPid = Number(readFileSync(marker, 'utf8'));
    // The bridge plugin has allocated an IP and made a veth; the pod has pins, a cgroup, a pause.
    t.true(readdirSync(path.join(inst.ipamDir, inst.network)).some((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)));
    await inst.restart(true);
    t.true((await pending) instanceof Error);
    t.deepEqual((await inst.rt.listPodSandbox({})).items.filter((p) => p.metadata?.name === 'cut'), []);
    await t.notThrowsAsync(inst.waitForLog(/undid a RunPodSandbox interrupted by a crash/));
    t.deepEqual(inst.leaks(), [], 'the IP, veth, pins, cgroup, pause and records are all gone');
  } finally {
    if (hangPid) process.kill(hangPid, 'SIGKILL');
    writeFileSync(confFile, good);
  }
});

test.serial('a StartContainer cut short by kill -9 (in a hanging test runtime) is undone at start-up; the container is created again and a retry starts it', async (t) => {
  const podCfg = podConfig('cutctr', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg, runtimeHandler: 'runc-hang' });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '1000']) });
  const pending = inst.rt.startContainer({ containerId }).catch((e: Error) => e);
  for (let i = 0; i < 200 && !existsSync(hangMarker); i++) await new Promise((r) => setTimeout(r, 25));
  t.true(existsSync(hangMarker), 'the runtime run is hanging');
  await inst.restart(true);
  t.true((await pending) instanceof Error);
  await t.notThrowsAsync(inst.waitForLog(/undid a StartContainer interrupted by a crash/));
  t.is((await inst.rt.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_CREATED);
  t.false(processAlive(Number(readFileSync(hangMarker, 'utf8'))), 'the hanging run was ended with its monitor');
  await inst.rt.startContainer({ containerId });
  t.is((await inst.rt.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_RUNNING);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('object directories that hold no record (a create cut short before its first save, or a record lost with the host) are removed at start-up', async (t) => {
  const id = randomBytes(32).toString('hex');
  const ctrDir = path.join(inst.root, 'containers', id);
  const podDir = path.join(inst.root, 'pods', randomBytes(32).toString('hex'));
  mkdirSync(path.join(ctrDir, 'upper', 'etc'), { recursive: true });
  writeFileSync(path.join(ctrDir, 'upper', 'etc', 'written'), 'by the container');
  mkdirSync(podDir, { recursive: true });
  writeFileSync(path.join(podDir, 'record.json'), ''); // a write that never reached the disk
  const { podSandboxId, containerId } = await runningContainer('kept');
  await inst.restart(true);
  t.false(existsSync(ctrDir));
  t.false(existsSync(podDir));
  await t.notThrowsAsync(inst.waitForLog(/removed container directories that hold no record/));
  t.is((await inst.rt.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_RUNNING, 'records that are there are kept');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
