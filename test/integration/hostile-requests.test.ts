// The hostile-request corpus: CRI requests that aim log files at the host (traversal,
// planted symlinks), names that would become bad paths or inject lines into pod files,
// and ExecSync calls that flood output or leave a background child holding the pipes.
// After each: sentinels unchanged, berthd answers with bounded RSS, nothing leaked.
import test from 'ava';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';
import { makeSentinels, rssMiB, type Sentinels } from '../helpers/sentinels.js';

let inst: Instance;
let s: Sentinels;
test.before(async () => {
  inst = await startInstance();
  s = makeSentinels(inst.dir);
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

async function pod(name: string): Promise<{ podSandboxId: string; logDir: string }> {
  const logDir = path.join(inst.logDir, name);
  mkdirSync(logDir, { recursive: true });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig(name, { logDirectory: logDir }) });
  return { podSandboxId, logDir };
}

async function running(podSandboxId: string, name: string, cmd = ['sleep', '3600']): Promise<string> {
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig(name, busybox, cmd), sandboxConfig: podConfig(name) });
  await inst.rt.startContainer({ containerId });
  return containerId;
}

test.serial('a symlink planted at the log path, or on its way, is never written through', async (t) => {
  const before = s.snapshot();
  const { podSandboxId, logDir } = await pod('planted');
  symlinkSync(s.victim, path.join(logDir, 'file.log'));
  symlinkSync(s.dir, path.join(logDir, 'dir'));
  for (const logPath of ['file.log', 'dir/victim', 'dir/new.log']) {
    await t.throwsAsync(
      inst.rt.createContainer({ podSandboxId, config: containerConfig(`c${logPath.length}`, busybox, ['echo', 'pwned'], { logPath }) }),
      { message: /FAILED_PRECONDITION.*log/ },
      logPath,
    );
  }
  t.is(s.snapshot(), before, 'the sentinels did not change');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('log paths and directories that leave their base are INVALID_ARGUMENT, naming the field', async (t) => {
  const { podSandboxId } = await pod('logpaths');
  for (const logPath of ['../escape.log', `${s.dir}/abs.log`, 'a/../../x.log', 'x\u0000y.log', 'dir/', 'a\nb.log']) {
    await t.throwsAsync(
      inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['true'], { logPath }) }),
      { message: /INVALID_ARGUMENT.*log_path/ },
      JSON.stringify(logPath),
    );
  }
  for (const logDirectory of ['relative/dir', `${inst.logDir}/../..${s.dir}`, `${inst.logDir}/x\u0001`]) {
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('ld', { logDirectory }) }), { message: /INVALID_ARGUMENT.*log_directory/ });
  }
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('names with a slash, dot-dot, NUL or control characters are INVALID_ARGUMENT, naming the field', async (t) => {
  const base = podConfig('names');
  const bad: Array<[string, object]> = [
    ['metadata.name', { metadata: { ...base.metadata, name: 'a/b' } }],
    ['metadata.name', { metadata: { ...base.metadata, name: '..' } }],
    ['metadata.name', { metadata: { ...base.metadata, name: 'a\nb' } }],
    ['metadata.namespace', { metadata: { ...base.metadata, namespace: 'ns\u0000' } }],
    ['metadata.uid', { metadata: { ...base.metadata, uid: '../uid' } }],
    ['metadata.name', { metadata: { ...base.metadata, name: 'x'.repeat(254) } }],
    ['hostname', { hostname: 'h\n127.0.0.1 evil' }],
    ['dns_config.servers', { dnsConfig: { servers: ['1.1.1.1\nnameserver 6.6.6.6'] } }],
  ];
  for (const [field, extra] of bad) {
    const message = new RegExp(`INVALID_ARGUMENT.*${field.replace('.', '\\.')}`);
    await t.throwsAsync(inst.rt.runPodSandbox({ config: { ...base, ...extra } }), { message }, field);
  }
  const { podSandboxId } = await pod('cnames');
  for (const name of ['../c', 'c/d', '.', 'c\u0007']) {
    await t.throwsAsync(inst.rt.createContainer({ podSandboxId, config: containerConfig(name, busybox, ['true'], { logPath: 'c.log' }) }), {
      message: /INVALID_ARGUMENT.*metadata\.name/,
    });
  }
  t.is((await inst.rt.listPodSandbox({})).items.length, 1);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('ExecSync output is capped per stream and marked, and berthd memory stays bounded', async (t) => {
  const { podSandboxId } = await pod('flood');
  const id = await running(podSandboxId, 'flood');
  const rssBefore = rssMiB(inst.proc.pid!);
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(inst.proc.pid!))), 20);
  // 512 MiB on stdout and 64 MiB on stderr, far past what one reply may carry.
  const r = await inst.rt.execSync({ containerId: id, cmd: ['sh', '-c', 'head -c 536870912 /dev/zero; head -c 67108864 /dev/zero >&2'], timeout: 120n });
  clearInterval(sampler);
  const limit = 4 * 1024 * 1024;
  t.is(r.exitCode, 0);
  t.true(r.stdout.length > limit && r.stdout.length < limit + 256, `stdout is ${r.stdout.length} bytes`);
  t.regex(Buffer.from(r.stdout.subarray(limit)).toString(), /\[berth: output truncated: 532676608 bytes beyond the 4194304-byte limit were dropped\]/);
  t.regex(Buffer.from(r.stderr.subarray(limit)).toString(), /output truncated: 62914560 bytes/);
  t.log(`berthd RSS MiB: before ${rssBefore.toFixed(1)}, peak ${peak.toFixed(1)} while 576 MiB of exec output went by`);
  t.true(peak - rssBefore < 64, `RSS grew by ${(peak - rssBefore).toFixed(1)} MiB`);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('ExecSync answers when the command exits, even if a background child holds its output open', async (t) => {
  const { podSandboxId } = await pod('bg');
  const id = await running(podSandboxId, 'bg');
  const r = await inst.rt.execSync({ containerId: id, cmd: ['sh', '-c', 'sleep 3599 & echo started; exit 3'], timeout: 60n });
  t.is(r.exitCode, 3);
  t.is(Buffer.from(r.stdout).toString(), 'started\n');
  // The child lives on in the container, as it would under any runtime.
  const ps = await inst.rt.execSync({ containerId: id, cmd: ['sh', '-c', 'ps -o args | grep -c "^sleep 3599"'], timeout: 10n });
  t.is(Buffer.from(ps.stdout).toString().trim(), '1');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('an ExecSync timeout is DEADLINE_EXCEEDED and kills everything the exec started', async (t) => {
  const { podSandboxId } = await pod('timeout');
  const id = await running(podSandboxId, 'timeout');
  await t.throwsAsync(inst.rt.execSync({ containerId: id, cmd: ['sh', '-c', 'sleep 3601 & sleep 3602 & sleep 3603'], timeout: 2n }), {
    message: /DEADLINE_EXCEEDED/,
  });
  const ps = await inst.rt.execSync({ containerId: id, cmd: ['sh', '-c', 'ps -o args | grep -c "^sleep 360[123]"'], timeout: 10n });
  t.is(Buffer.from(ps.stdout).toString().trim(), '0', 'no process of the exec is left');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
