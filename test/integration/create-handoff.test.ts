// The kubelet's retry of a RunPodSandbox/CreateContainer it gave up on (its request
// timeout): the create that finished after the caller left is handed to the retry (same
// ID, no AlreadyExists, no second pod), a retry that comes while the first create still
// runs waits for it, and one no retry claims is removed after unclaimed_create_grace_seconds.
// RunPodSandbox is slow for real: a CNI plugin (test/fixtures/cni-plugins/berth-test-slow,
// the real loopback plugin after a sleep). CreateContainer runs no external process (the
// runtime runs at StartContainer), so its delay is injected (src/util/test-delay.ts). The
// callers use real short gRPC deadlines.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { busybox, containerConfig, type Instance, podConfig, repoRoot, startInstance } from '../helpers/instance.js';

const GRACE_S = 4;
let inst: Instance;
let cniDelay: string;
let createDelay: string;

test.before(async () => {
  const fixtures = path.join(repoRoot, 'test', 'fixtures');
  inst = await startInstance({
    toml: [`cni_plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni", "${path.join(fixtures, 'cni-plugins')}"]`, `unclaimed_create_grace_seconds = ${GRACE_S}`].join('\n'),
  });
  cniDelay = path.join(inst.dir, 'cni-delay');
  createDelay = path.join(inst.dir, 'create-delay');
  // The instance's own conflist, its loopback plugin replaced by the slow wrapper around it.
  const conf = path.join(inst.dir, 'net.d', '10-test.conflist');
  const list = JSON.parse(readFileSync(conf, 'utf8')) as { plugins: Array<Record<string, unknown>> };
  list.plugins = list.plugins.map((p) => (p.type === 'loopback' ? { type: 'berth-test-slow', delayFile: cniDelay } : p));
  writeFileSync(conf, JSON.stringify(list));
  process.env.BERTH_TEST_CREATE_DELAY_FILE = createDelay; // the restarted berthd inherits it
  await inst.restart();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});
test.afterEach.always(async () => {
  writeFileSync(cniDelay, '');
  writeFileSync(createDelay, '');
  for (const p of (await inst.rt.listPodSandbox({})).items) await inst.rt.removePodSandbox({ podSandboxId: p.id }).catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (e: unknown) => (e as { code?: number }).code;

/** Polls `fn` until it holds (within `ms`). */
async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

async function timedOut<T>(p: Promise<T>): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (code(e) !== status.DEADLINE_EXCEEDED) throw new Error(`expected DEADLINE_EXCEEDED, got ${e ? String(e) : 'success'}`);
}

test.serial('a RunPodSandbox retried while the first run is still in flight waits for it and gets the same pod', async (t) => {
  writeFileSync(cniDelay, '3');
  const cfg = podConfig('inflight');
  const started = Date.now();
  await timedOut(inst.rt.runPodSandbox({ config: cfg }, 1000));
  writeFileSync(cniDelay, ''); // a second run would be quick: the retry's answer must still come from the first
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: cfg });
  t.true(Date.now() - started >= 3000, 'the retry waited for the first run');
  const pods = (await inst.rt.listPodSandbox({})).items;
  t.deepEqual(pods.map((p) => p.id), [podSandboxId]);
  t.is(pods[0]!.state, 0); // SANDBOX_READY
  await inst.waitForLog(/a retry waits for the pod create still in flight/);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a RunPodSandbox retried after the first run finished unanswered gets that pod; it is not removed later', async (t) => {
  writeFileSync(cniDelay, '2');
  const cfg = podConfig('late');
  await timedOut(inst.rt.runPodSandbox({ config: cfg }, 500));
  await inst.waitForLog(/pod created after its caller left; kept for the retry/, 10_000);
  const [first] = (await inst.rt.listPodSandbox({})).items;
  const started = Date.now();
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: cfg });
  t.is(podSandboxId, first!.id);
  t.true(Date.now() - started < 1500, 'handed over, not made again');
  await sleep((GRACE_S + 1) * 1000); // past the grace: a claimed pod stays
  t.deepEqual((await inst.rt.listPodSandbox({})).items.map((p) => p.id), [podSandboxId]);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a pod created after its caller left and never claimed is stopped and removed after the grace period', async (t) => {
  writeFileSync(cniDelay, '2');
  await timedOut(inst.rt.runPodSandbox({ config: podConfig('orphan') }, 500));
  await inst.waitForLog(/pod created after its caller left; kept for the retry/, 10_000);
  t.is((await inst.rt.listPodSandbox({})).items.length, 1);
  await inst.waitForLog(/no retry claimed the pod created after its caller left; removing it/, (GRACE_S + 3) * 1000);
  await until('the unclaimed pod is removed', async () => (await inst.rt.listPodSandbox({})).items.length === 0, 5000);
  t.deepEqual(inst.leaks(), []);
});

test.serial('a retry with a different config under the same name is a name conflict, not a handover', async (t) => {
  writeFileSync(cniDelay, '2');
  const cfg = podConfig('changed');
  await timedOut(inst.rt.runPodSandbox({ config: cfg }, 500));
  const e = await t.throwsAsync(inst.rt.runPodSandbox({ config: { ...cfg, hostname: 'other' } }));
  t.is(code(e), status.ALREADY_EXISTS);
  // The first run's pod is still there (the in-flight run finishes) and stays claimable.
  writeFileSync(cniDelay, '');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: cfg });
  t.deepEqual((await inst.rt.listPodSandbox({})).items.map((p) => p.id), [podSandboxId]);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a CreateContainer retried after a slow create (delay injected) gets that container; an unclaimed one is removed', async (t) => {
  const podCfg = podConfig('slow-create');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  writeFileSync(createDelay, '2');
  const cfg = containerConfig('c', busybox, ['sleep', '1000']);
  // Retried while in flight: waits, same container.
  await timedOut(inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: cfg }, 500));
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: cfg });
  t.deepEqual((await inst.rt.listContainers({})).containers.map((c) => c.id), [containerId]);
  await inst.rt.startContainer({ containerId });
  t.is((await inst.rt.containerStatus({ containerId })).status!.state, 1); // CONTAINER_RUNNING
  // Never retried (the next attempt): removed after the grace period.
  await timedOut(inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: { ...cfg, metadata: { name: 'c', attempt: 1 } } }, 500));
  await inst.waitForLog(/container created after its caller left; kept for the retry/, 10_000);
  t.is((await inst.rt.listContainers({})).containers.length, 2);
  await inst.waitForLog(/no retry claimed the container created after its caller left; removing it/, (GRACE_S + 3) * 1000);
  await until('the unclaimed container is removed', async () => (await inst.rt.listContainers({})).containers.length === 1, 5000);
  t.deepEqual((await inst.rt.listContainers({})).containers.map((c) => c.id), [containerId]);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('pods kept for a retry survive a berthd restart: one is handed over, the other removed when its grace ends', async (t) => {
  const kept = () => (inst.log().match(/pod created after its caller left; kept for the retry/g) ?? []).length;
  const keptBefore = kept();
  writeFileSync(cniDelay, '1');
  const [a, b] = [podConfig('kept-a'), podConfig('kept-b')];
  await Promise.all([timedOut(inst.rt.runPodSandbox({ config: a }, 300)), timedOut(inst.rt.runPodSandbox({ config: b }, 300))]);
  await until('both runs finished', async () => kept() === keptBefore + 2, 10_000);
  const before = (await inst.rt.listPodSandbox({})).items;
  t.is(before.length, 2);
  await inst.restart(true); // kill -9: the records alone carry what was kept
  writeFileSync(cniDelay, '');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: a });
  t.is(podSandboxId, before.find((p) => p.metadata!.name === 'kept-a')!.id);
  await until('the unclaimed pod is removed', async () => (await inst.rt.listPodSandbox({})).items.length === 1, (GRACE_S + 3) * 1000);
  t.deepEqual((await inst.rt.listPodSandbox({})).items.map((p) => p.id), [podSandboxId]);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
