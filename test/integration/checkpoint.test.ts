// CheckpointContainer / CheckpointPod / RestorePod with the host's real CRIU. What the
// test expects follows what `criu check` says here, run by the test itself: on a host
// where CRIU works the archive is made and read back; where it does not (Debian 12's CRIU
// 3.17 on kernel 6.18: "vdso: Unexpected rt vDSO area bounds") the RPCs answer
// FAILED_PRECONDITION with CRIU's own reason, write nothing and leave the container running.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
let criu: { ok: boolean; firstError: string };
test.before(async () => {
  const r = spawnSync('criu', ['check'], { encoding: 'utf8' });
  const firstError = /Error \([^)]*\):\s*(.*)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? (r.error ? 'cannot be run' : '');
  criu = { ok: r.status === 0, firstError };
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

async function runningContainer(name: string) {
  const podCfg = podConfig(name);
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: containerConfig('c', busybox, ['sleep', '1000']) });
  await inst.rt.startContainer({ containerId });
  return { podSandboxId, podCfg, containerId };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test.serial('CheckpointContainer: an archive with the CRIU image, config, spec and writable layer, or CRIU\'s reason why not', async (t) => {
  const { podSandboxId, containerId } = await runningContainer('cp');
  await inst.rt.execSync({ containerId, cmd: ['sh', '-c', 'echo kept > /data.txt'], timeout: 10n });
  const out = path.join(inst.dir, 'out');
  mkdirSync(out);
  const location = path.join(out, 'cp.tar');
  if (criu.ok) {
    await inst.rt.checkpointContainer({ containerId, location });
    const list = execFileSync('tar', ['-tf', location], { encoding: 'utf8' });
    for (const f of ['checkpoint/', 'config.dump', 'spec.dump', 'rootfs-diff.tar']) t.true(list.split('\n').includes(f), f);
    const diff = execFileSync('sh', ['-c', `tar -xOf ${location} rootfs-diff.tar | tar -t`], { encoding: 'utf8' });
    t.regex(diff, /data\.txt/);
  } else {
    const e = await t.throwsAsync(inst.rt.checkpointContainer({ containerId, location }));
    t.regex(e!.message, /^9 FAILED_PRECONDITION: CRIU .*cannot checkpoint on this host: criu check: /);
    t.regex(e!.message, new RegExp(escape(criu.firstError)));
    t.deepEqual(readdirSync(out), [], 'no archive and no temp file');
  }
  t.false(existsSync(path.join(inst.runtimeDir, 'checkpoints')) && readdirSync(path.join(inst.runtimeDir, 'checkpoints')).length > 0, 'scratch space removed');
  t.is((await inst.rt.containerStatus({ containerId })).status!.state, 1, 'still running'); // CONTAINER_RUNNING
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('CheckpointContainer refuses bad requests before CRIU is asked: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION', async (t) => {
  const podCfg = podConfig('cp-bad');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: containerConfig('c', busybox, ['sleep', '1000']) });
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ containerId, location: '' }, /INVALID_ARGUMENT: location is empty/],
    [{ containerId, location: 'rel/cp.tar' }, /INVALID_ARGUMENT: location "rel\/cp.tar" must be an absolute path/],
    [{ containerId, location: `${inst.dir}/../x/cp.tar` }, /INVALID_ARGUMENT: .*without "\.\."/],
    [{ containerId, location: path.join(inst.dir, 'no-such-dir', 'cp.tar') }, /INVALID_ARGUMENT: .*its directory does not exist/],
    [{ containerId, location: inst.dir }, /INVALID_ARGUMENT: .*is a directory/],
    [{ containerId, location: path.join(inst.dir, 'cp.tar'), timeout: -1n }, /INVALID_ARGUMENT: timeout -1 is negative/],
    [{ containerId: 'f'.repeat(64), location: path.join(inst.dir, 'cp.tar') }, /NOT_FOUND: container f{64} not found/],
    [{ containerId, location: path.join(inst.dir, 'cp.tar') }, /FAILED_PRECONDITION: container [0-9a-f]{64} is created, not running/],
  ];
  for (const [req, re] of cases) await t.throwsAsync(inst.rt.checkpointContainer(req), { message: re }, JSON.stringify(req, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  t.false(existsSync(path.join(inst.dir, 'cp.tar')));
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('CheckpointPod: the request is checked as the CRI asks, then CRIU\'s reason (or UNIMPLEMENTED where CRIU works); the output dir stays as given', async (t) => {
  const { podSandboxId, containerId } = await runningContainer('cp-pod');
  const other = await runningContainer('cp-other');
  const dir = path.join(inst.dir, 'pod-cp');
  mkdirSync(dir);
  const full = path.join(inst.dir, 'full');
  mkdirSync(full);
  writeFileSync(path.join(full, 'x'), '');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ podSandboxId: 'f'.repeat(64), outputPath: dir, containerIds: [containerId] }, /NOT_FOUND/],
    [{ podSandboxId, outputPath: 'rel', containerIds: [containerId] }, /INVALID_ARGUMENT: output_path "rel" must be an absolute path/],
    [{ podSandboxId, outputPath: path.join(inst.dir, 'none'), containerIds: [containerId] }, /INVALID_ARGUMENT: .*must be an existing directory/],
    [{ podSandboxId, outputPath: full, containerIds: [containerId] }, /INVALID_ARGUMENT: .*must be empty/],
    [{ podSandboxId, outputPath: dir, containerIds: [] }, /INVALID_ARGUMENT: container_ids is empty/],
    [{ podSandboxId, outputPath: dir, containerIds: [containerId, containerId] }, /INVALID_ARGUMENT: container_ids has duplicates/],
    [{ podSandboxId, outputPath: dir, containerIds: [other.containerId] }, /INVALID_ARGUMENT: container [0-9a-f]{64} is not in pod sandbox/],
    [{ podSandboxId, outputPath: dir, containerIds: [containerId], options: { leaveRunning: 'true' } }, /INVALID_ARGUMENT: options: berth takes no checkpoint\/restore options \(got leaveRunning\)/],
    [{ podSandboxId, outputPath: dir, containerIds: [containerId] }, criu.ok ? /UNIMPLEMENTED: .*does not make pod checkpoints yet/ : /FAILED_PRECONDITION: CRIU .*cannot checkpoint on this host/],
  ];
  for (const [req, re] of cases) await t.throwsAsync(inst.rt.checkpointPod(req), { message: re }, JSON.stringify(req));
  t.deepEqual(readdirSync(dir), []);
  for (const p of [podSandboxId, other.podSandboxId]) await inst.rt.removePodSandbox({ podSandboxId: p });
  t.deepEqual(inst.leaks(), []);
});

test.serial('RestorePod: the request is checked, then CRIU\'s reason (or UNIMPLEMENTED where CRIU works); nothing is made', async (t) => {
  const dir = path.join(inst.dir, 'restore-from');
  mkdirSync(dir);
  const config = podConfig('restored');
  const containerConfigs = [containerConfig('c', busybox, ['sleep', '1000'])];
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ checkpointPath: dir, containerConfigs }, /INVALID_ARGUMENT: RestorePod needs a config/],
    [{ checkpointPath: path.join(inst.dir, 'none'), config, containerConfigs }, /INVALID_ARGUMENT: checkpoint_path .* must be an existing directory/],
    [{ checkpointPath: dir, config, containerConfigs, runtimeHandler: 'nope' }, /INVALID_ARGUMENT: runtime handler "nope" is not configured/],
    [{ checkpointPath: dir, config, containerConfigs: [] }, /INVALID_ARGUMENT: container_configs is empty/],
    [{ checkpointPath: dir, config, containerConfigs: [...containerConfigs, ...containerConfigs] }, /INVALID_ARGUMENT: container_configs need unique/],
    [{ checkpointPath: dir, config, containerConfigs }, criu.ok ? /UNIMPLEMENTED: berth does not restore/ : /FAILED_PRECONDITION: CRIU .*cannot checkpoint on this host/],
  ];
  for (const [req, re] of cases) await t.throwsAsync(inst.rt.restorePod(req), { message: re }, JSON.stringify(req));
  t.deepEqual((await inst.rt.listPodSandbox({})).items, []);
  t.deepEqual(inst.leaks(), []);
});
