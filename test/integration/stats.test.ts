// Stats, OOM kills, log reopening and resource updates on real parts (runc, the CNI
// bridge, the memory cgroup): what the kubelet's eviction, OOMKilled reasons, log
// rotation and in-place resize rely on.
import test, { type ExecutionContext } from 'ava';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ContainerState } from '../../src/gen/runtime/v1/api.js';
import { signalBlocked } from '../../src/util/procfs.js';
import { busybox, containerConfig, type Instance, podConfig, repoRoot, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance({ extraRuntimes: { 'runc-slow-return': path.join(repoRoot, 'test', 'fixtures', 'runc-slow-return') } });
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A pod with its own log directory (made as the kubelet makes it), removed after the test even if it fails. */
async function pod(t: ExecutionContext, name: string) {
  const logDirectory = path.join(inst.logDir, name);
  mkdirSync(logDirectory, { recursive: true });
  const config = podConfig(name, { logDirectory });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config });
  t.teardown(() => inst.rt.removePodSandbox({ podSandboxId }).then(() => undefined));
  return { podSandboxId, config, logDirectory };
}

async function started(podSandboxId: string, config: ReturnType<typeof podConfig>, name: string, command: string[], extra: Record<string, unknown> = {}) {
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig(name, busybox, command, extra), sandboxConfig: config });
  await inst.rt.startContainer({ containerId });
  return containerId;
}

const code = (e: unknown) => (e as { code?: number }).code;

test.serial('container and pod stats: CPU, memory, writable layer, processes and network, with filters', async (t) => {
  const { podSandboxId, config } = await pod(t, 'stats');
  // A busy loop (CPU), 8 MiB held in a tmpfs-free way (a shell variable), and a file in the writable layer.
  const busy = await started(podSandboxId, config, 'busy', ['sh', '-c', 'dd if=/dev/zero of=/layer-file bs=1M count=3 2>/dev/null; while :; do :; done'], {
    labels: { role: 'busy' },
  });
  const idle = await started(podSandboxId, config, 'idle', ['sleep', '1000'], { labels: { role: 'idle' } });
  await sleep(1000);

  const first = (await inst.rt.containerStats({ containerId: busy })).stats!;
  t.is(first.attributes?.id, busy);
  t.is(first.attributes?.metadata?.name, 'busy');
  t.deepEqual(first.attributes?.labels, { role: 'busy' });
  t.true(first.cpu!.timestamp > 0n && first.memory!.timestamp > 0n);
  t.true(first.cpu!.usageCoreNanoSeconds!.value > 100_000_000n, 'a second of busy loop is well over 0.1 s of CPU');
  t.true(first.memory!.workingSetBytes!.value > 0n);
  t.true(first.memory!.usageBytes!.value >= first.memory!.workingSetBytes!.value);
  t.not(first.memory!.pageFaults, undefined);
  t.true(first.writableLayer!.usedBytes!.value >= 3n * 1024n * 1024n, 'the 3 MiB file is in the writable layer');
  t.true(first.writableLayer!.inodesUsed!.value >= 1n);
  t.is(first.writableLayer!.fsId?.mountpoint, path.join(inst.root, 'containers'));

  await sleep(500);
  const second = (await inst.rt.containerStats({ containerId: busy })).stats!;
  const cores = Number(second.cpu!.usageNanoCores!.value) / 1e9;
  t.true(cores > 0.3 && cores < 2.5, `a busy loop uses about one core (got ${cores})`);
  t.true(second.cpu!.usageCoreNanoSeconds!.value > first.cpu!.usageCoreNanoSeconds!.value);

  const ids = async (filter: Record<string, unknown> | undefined) =>
    (await inst.rt.listContainerStats({ filter })).stats.map((s) => s.attributes!.id).sort();
  t.deepEqual(await ids(undefined), [busy, idle].sort());
  t.deepEqual(await ids({ id: idle.slice(0, 12) }), [idle]);
  t.deepEqual(await ids({ podSandboxId }), [busy, idle].sort());
  t.deepEqual(await ids({ labelSelector: { role: 'idle' } }), [idle]);
  t.deepEqual(await ids({ labelSelector: { role: 'nope' } }), []);

  // Traffic on the pod's interface: a connection attempt to its gateway (the test bridge)
  // sends ARP and a SYN and gets answers (a reset), whatever listens there.
  await inst.rt.execSync({ containerId: idle, cmd: ['sh', '-c', 'wget -q -T 2 -O /dev/null http://$(ip route | awk "/default/ {print \\$3}"):9/ || true'], timeout: 10n });
  const ps = (await inst.rt.podSandboxStats({ podSandboxId })).stats!;
  t.is(ps.attributes?.id, podSandboxId);
  t.is(ps.attributes?.metadata?.name, 'stats');
  const linux = ps.linux!;
  t.true(linux.cpu!.usageCoreNanoSeconds!.value >= second.cpu!.usageCoreNanoSeconds!.value, 'the pod cgroup holds its containers');
  t.true(linux.memory!.workingSetBytes!.value > 0n);
  t.true(linux.process!.processCount!.value >= 2n, 'both containers count');
  t.is(linux.network?.defaultInterface?.name, 'eth0');
  t.true(linux.network!.defaultInterface!.txBytes!.value > 0n && linux.network!.defaultInterface!.rxBytes!.value > 0n);
  t.deepEqual(linux.containers.map((c) => c.attributes!.id).sort(), [busy, idle].sort());

  const listed = (await inst.rt.listPodSandboxStats({ filter: { id: podSandboxId.slice(0, 10) } })).stats;
  t.deepEqual(listed.map((s) => s.attributes!.id), [podSandboxId]);
  t.deepEqual((await inst.rt.listPodSandboxStats({ filter: { labelSelector: { no: 'such' } } })).stats, []);

  const missing = await inst.rt.containerStats({ containerId: 'f'.repeat(64) }).catch((e: unknown) => e);
  t.is(code(missing), grpcStatus.NOT_FOUND);
  t.is(code(await inst.rt.podSandboxStats({ podSandboxId: 'f'.repeat(64) }).catch((e: unknown) => e)), grpcStatus.NOT_FOUND);

  // Stopped containers still get an entry (the kubelet matches stats to its list).
  await inst.rt.stopContainer({ containerId: busy, timeout: 0n });
  const after = (await inst.rt.containerStats({ containerId: busy })).stats!;
  t.true(after.cpu!.timestamp > 0n);
  await inst.rt.stopPodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

const oomCommand = ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=20M'];
const oomLimits = { linux: { securityContext: { namespaceOptions: { pid: 1 } }, resources: { memoryLimitInBytes: 15n * 1024n * 1024n, memorySwapLimitInBytes: 15n * 1024n * 1024n } } };

async function exited(containerId: string) {
  return waitFor('the container to exit', async () => {
    const s = (await inst.rt.containerStatus({ containerId })).status!;
    return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
  });
}

test.serial('a container killed for memory exits 137 with reason OOMKilled; one that fails otherwise says Error', async (t) => {
  const { podSandboxId, config } = await pod(t, 'oom');
  const oom = await started(podSandboxId, config, 'oom', oomCommand, oomLimits);
  const st = await exited(oom);
  t.is(st.exitCode, 137);
  t.is(st.reason, 'OOMKilled');
  const plain = await started(podSandboxId, config, 'fails', ['sh', '-c', 'exit 3'], oomLimits);
  const st2 = await exited(plain);
  t.is(st2.exitCode, 3);
  t.is(st2.reason, 'Error');
  const killed = await started(podSandboxId, config, 'killed', ['sleep', '1000'], oomLimits);
  await inst.rt.stopContainer({ containerId: killed, timeout: 0n });
  const st3 = (await inst.rt.containerStatus({ containerId: killed })).status!;
  t.is(st3.exitCode, 137);
  t.is(st3.reason, 'Error', 'SIGKILL from StopContainer is no OOM kill');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('an OOM kill before StartContainer returns is still OOMKilled (runtime returning late: test/fixtures/runc-slow-return)', async (t) => {
  // `run --detach` creates and starts at once: the process is killed for memory before the
  // monitor opens the cgroup's OOM counter, which then already counts that kill.
  const logDirectory = path.join(inst.logDir, 'oomearly');
  mkdirSync(logDirectory, { recursive: true });
  const config = podConfig('oomearly', { logDirectory });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config, runtimeHandler: 'runc-slow-return' });
  const oom = await started(podSandboxId, config, 'oom', oomCommand, oomLimits);
  const st = await exited(oom);
  t.is(st.exitCode, 137);
  t.is(st.reason, 'OOMKilled');
  const killed = await started(podSandboxId, config, 'killed', ['sleep', '1000'], oomLimits);
  await inst.rt.stopContainer({ containerId: killed, timeout: 0n });
  t.is((await inst.rt.containerStatus({ containerId: killed })).status!.reason, 'Error', 'no OOM kill counted for a container that had none');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('an OOM kill while berthd is down (kill -9) is still reported as OOMKilled after the restart', async (t) => {
  const { podSandboxId, config } = await pod(t, 'oomrestart');
  const containerId = await started(podSandboxId, config, 'late-oom', ['sh', '-c', 'sleep 2; dd if=/dev/zero of=/dev/null bs=20M'], oomLimits);
  await inst.restart(true);
  await sleep(3000); // the OOM kill happens while berthd is down
  const st = await exited(containerId);
  t.is(st.exitCode, 137);
  t.is(st.reason, 'OOMKilled');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('ReopenContainerLog: the monitor writes to a new file after the old one was renamed', async (t) => {
  const { podSandboxId, config, logDirectory } = await pod(t, 'reopen');
  const containerId = await started(podSandboxId, config, 'talker', ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.1; done']);
  const log = path.join(logDirectory, 'talker.log');
  await waitFor('log lines', () => (existsSync(log) && readFileSync(log, 'utf8').includes('line-') ? true : undefined));
  // The monitor blocks its control signals; the container must not inherit that mask.
  const { pid } = JSON.parse((await inst.rt.containerStatus({ containerId, verbose: true })).info.info!) as { pid: number };
  t.false(signalBlocked(pid, 10) || signalBlocked(pid, 17), 'the monitor\'s signal mask is not passed on to the container');
  renameSync(log, `${log}.1`);
  await inst.rt.reopenContainerLog({ containerId });
  t.true(existsSync(log), 'the new file exists once the RPC returns');
  await waitFor('lines in the new file', () => (readFileSync(log, 'utf8').includes('line-') ? true : undefined));
  const old = readFileSync(`${log}.1`, 'utf8');
  await sleep(500);
  t.is(readFileSync(`${log}.1`, 'utf8'), old, 'the rotated file no longer grows');
  t.regex(readFileSync(log, 'utf8'), /^\S+ stdout F line-\d+$/m);

  // Reopening without a rename keeps the same file.
  await inst.rt.reopenContainerLog({ containerId });
  await waitFor('more lines', () => (readFileSync(log, 'utf8').split('\n').length > 5 ? true : undefined));

  // A symlink planted where the new file would go is not followed: the old file stays in use.
  const outside = path.join(inst.dir, 'outside-target');
  writeFileSync(outside, '');
  renameSync(log, `${log}.2`);
  symlinkSync(outside, log);
  const planted = await inst.rt.reopenContainerLog({ containerId }).catch((e: unknown) => e);
  t.is(code(planted), grpcStatus.FAILED_PRECONDITION);
  t.regex((planted as Error).message, /symlink/);
  const size = readFileSync(`${log}.2`).length;
  await waitFor('the container to log on into the file it still holds', () => (readFileSync(`${log}.2`).length > size ? true : undefined));
  t.is(readFileSync(outside, 'utf8'), '', 'nothing written through the symlink');
  rmSync(log);
  await inst.rt.reopenContainerLog({ containerId });
  t.false(lstatSync(log).isSymbolicLink());

  await inst.rt.stopContainer({ containerId, timeout: 0n });
  const stopped = await inst.rt.reopenContainerLog({ containerId }).catch((e: unknown) => e);
  t.is(code(stopped), grpcStatus.FAILED_PRECONDITION);
  t.regex((stopped as Error).message, /not running/);
  t.is(code(await inst.rt.reopenContainerLog({ containerId: 'e'.repeat(64) }).catch((e: unknown) => e)), grpcStatus.NOT_FOUND);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

/** A cgroup v1 file of the container (this host: every controller on its own hierarchy). */
function cgroupFile(containerCgroup: string, controller: string, file: string): string {
  return readFileSync(path.join('/sys/fs/cgroup', controller, containerCgroup, file), 'utf8').trim();
}

test.serial('UpdateContainerResources changes the cgroup of a running container, is reported by ContainerStatus and survives a restart; UpdatePodSandboxResources resizes a pod cgroup berth made', async (t) => {
  const { podSandboxId, config } = await pod(t, 'update');
  const mib = 1024n * 1024n;
  const containerId = await started(podSandboxId, config, 'resized', ['sleep', '1000'], {
    linux: { securityContext: { namespaceOptions: { pid: 1 } }, resources: { memoryLimitInBytes: 64n * mib, memorySwapLimitInBytes: 64n * mib, cpuShares: 512n } },
  });
  const { cgroupsPath } = JSON.parse((await inst.rt.containerStatus({ containerId, verbose: true })).info.info!) as { cgroupsPath: string };
  t.is(cgroupFile(cgroupsPath, 'memory', 'memory.limit_in_bytes'), String(64n * mib));

  await inst.rt.updateContainerResources({ containerId, linux: { memoryLimitInBytes: 32n * mib, memorySwapLimitInBytes: 32n * mib, cpuQuota: 50_000n, cpuPeriod: 100_000n } });
  t.is(cgroupFile(cgroupsPath, 'memory', 'memory.limit_in_bytes'), String(32n * mib));
  t.is(cgroupFile(cgroupsPath, 'cpu', 'cpu.cfs_quota_us'), '50000');
  t.is(cgroupFile(cgroupsPath, 'cpu', 'cpu.shares'), '512', 'what the update leaves out stays');
  // Growing again with the memory limit alone: the swap allowance (none) is kept.
  await inst.rt.updateContainerResources({ containerId, linux: { memoryLimitInBytes: 96n * mib } });
  t.is(cgroupFile(cgroupsPath, 'memory', 'memory.limit_in_bytes'), String(96n * mib));
  t.is(cgroupFile(cgroupsPath, 'memory', 'memory.memsw.limit_in_bytes'), String(96n * mib));

  const res = (await inst.rt.containerStatus({ containerId })).status!.resources!.linux!;
  t.is(res.memoryLimitInBytes, 96n * mib);
  t.is(res.cpuQuota, 50_000n);
  t.is(res.cpuShares, 512n);
  await inst.restart(true);
  const after = (await inst.rt.containerStatus({ containerId })).status!;
  t.is(after.state, ContainerState.CONTAINER_RUNNING);
  t.is(after.resources?.linux?.memoryLimitInBytes, 96n * mib);

  const bad = async (linux: Record<string, unknown>, re: RegExp) => {
    const e = await inst.rt.updateContainerResources({ containerId, linux }).catch((x: unknown) => x);
    t.is(code(e), grpcStatus.INVALID_ARGUMENT, JSON.stringify(linux, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    t.regex((e as Error).message, re);
  };
  await bad({ memoryLimitInBytes: -5n }, /memory_limit_in_bytes/);
  await bad({ memoryLimitInBytes: 64n * mib, memorySwapLimitInBytes: 32n * mib }, /memory_swap_limit_in_bytes/);
  await bad({ cpusetCpus: '0-1; rm -rf' }, /cpuset_cpus/);
  await bad({ unified: { 'memory.max': '1' } }, /cgroup v2/);
  await bad({ hugepageLimits: [{ pageSize: '../2MB', limit: 1n }] }, /page_size/);
  t.is(code(await inst.rt.updateContainerResources({ containerId: 'd'.repeat(64), linux: {} }).catch((e: unknown) => e)), grpcStatus.NOT_FOUND);
  // UpdatePodSandboxResources: checked like a container's; a pod cgroup berth made (no
  // cgroup_parent, as here) gets the containers' sum plus the overhead.
  await inst.rt.updatePodSandboxResources({ podSandboxId, resources: { memoryLimitInBytes: 128n * mib, cpuShares: 1024n }, overhead: { cpuShares: 2n, memoryLimitInBytes: 16n * mib } });
  const { cgroupPath } = JSON.parse((await inst.rt.podSandboxStatus({ podSandboxId, verbose: true })).info.info!) as { cgroupPath: string };
  t.is(cgroupFile(cgroupPath, 'memory', 'memory.limit_in_bytes'), String(144n * mib));
  t.is(cgroupFile(cgroupPath, 'cpu', 'cpu.shares'), '1026');
  const podBad = await inst.rt.updatePodSandboxResources({ podSandboxId, resources: { cpuShares: -3n } }).catch((e: unknown) => e);
  t.is(code(podBad), grpcStatus.INVALID_ARGUMENT);
  t.is(code(await inst.rt.updatePodSandboxResources({ podSandboxId: 'd'.repeat(64) }).catch((e: unknown) => e)), grpcStatus.NOT_FOUND);
  await inst.rt.stopContainer({ containerId, timeout: 0n });
  const stopped = await inst.rt.updateContainerResources({ containerId, linux: { cpuShares: 256n } }).catch((e: unknown) => e);
  t.is(code(stopped), grpcStatus.FAILED_PRECONDITION);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('metrics: descriptors named as cAdvisor names them, and pod metrics that match them', async (t) => {
  const { podSandboxId, config } = await pod(t, 'metrics');
  const mib = 1024n * 1024n;
  const containerId = await started(podSandboxId, config, 'measured', ['sh', '-c', 'echo hi > /file; sleep 1000 & wait'], {
    linux: { securityContext: { namespaceOptions: { pid: 1 } }, resources: { memoryLimitInBytes: 64n * mib, memorySwapLimitInBytes: 64n * mib, cpuShares: 1024n, cpuPeriod: 100_000n, cpuQuota: 20_000n } },
  });
  const { descriptors } = await inst.rt.listMetricDescriptors({});
  const keys = new Map(descriptors.map((d) => [d.name, d.labelKeys]));
  for (const name of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_network_receive_bytes_total', 'container_fs_usage_bytes', 'container_threads_max']) {
    t.true(keys.has(name), name);
  }
  t.true(descriptors.every((d) => d.help && d.labelKeys.slice(0, 3).join() === 'id,name,image'));

  const { podMetrics } = await inst.rt.listPodSandboxMetrics({});
  const mine = podMetrics.find((p) => p.podSandboxId === podSandboxId)!;
  t.truthy(mine);
  const all = [...mine.metrics, ...mine.containerMetrics.flatMap((c) => c.metrics)];
  for (const m of all) t.is(m.labelValues.length, keys.get(m.name)?.length ?? -1, `${m.name} has as many label values as its descriptor has keys`);
  const ctr = mine.containerMetrics.find((c) => c.containerId === containerId)!.metrics;
  const value = (name: string) => ctr.find((m) => m.name === name)?.value?.value;
  t.deepEqual(ctr.find((m) => m.name === 'container_memory_working_set_bytes')?.labelValues, [containerId, 'measured', busybox]);
  t.true(value('container_memory_working_set_bytes')! > 0n);
  t.is(value('container_spec_memory_limit_bytes'), 64n * mib);
  t.is(value('container_spec_cpu_quota'), 20_000n);
  t.is(value('container_spec_cpu_period'), 100_000n);
  t.true(value('container_processes')! >= 2n, 'sh and sleep');
  t.true(value('container_threads')! >= 2n);
  t.true(value('container_file_descriptors')! >= 3n);
  t.true(value('container_fs_usage_bytes')! > 0n, 'the file written to the writable layer');
  t.true(value('container_start_time_seconds')! > 1_700_000_000n);
  const rx = mine.metrics.find((m) => m.name === 'container_network_receive_bytes_total');
  t.deepEqual(rx?.labelValues, [podSandboxId, 'POD', '', 'eth0']);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
