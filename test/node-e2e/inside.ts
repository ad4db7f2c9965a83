// The inner half of the node e2e runner (run.ts starts it under `unshare --net --mount
// --pid`): everything the suite touches lives in namespaces of its own, so the host keeps
// no netns, veth, iptables rule, mount or process of the run.
//   - network: loopback plus a portless bridge with the node IP and the default route
//     (the API server wants a default route; nothing leaves the namespace).
//   - mounts (private to this namespace): temp dirs over /var/lib/kubelet and /var/log/pods
//     (the kubelet hard-codes them); /dev/null over systemd-run, so the suite starts the
//     kubelet as a plain child (PID 1 here is not systemd, and systemd-run would fail);
//     copies over the host-wide sysctls the kubelet would otherwise change.
//   - a read-only docker-registry on the host registry's storage (the host's 127.0.0.1 is
//     not reachable from here), a fresh berthd mirroring registry.k8s.io to it.
// Writes its result (ginkgo's exit code) to $NODE_E2E_RESULT; run.ts reads the JUnit report.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { registry, startInstance } from '../helpers/instance.js';
import { registriesConf } from '../conformance/registries.js';
import { native } from '../../src/native/index.js';
import { kubeletDirs, runCgroups } from './dirs.js';

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`node-e2e inside: ${k} is not set (run test/node-e2e/run.js, not this file)`);
  return v;
};
const work = env('NODE_E2E_WORK');
const bin = env('NODE_E2E_BIN');
const nodeIp = process.env.NODE_E2E_NODE_IP ?? '10.217.0.2';
const cgroups = runCgroups(env('NODE_E2E_CGROUP_ROOT'));

/** x.y.z.1 of the node IP's /24 (a gateway that never answers: nothing leaves here). */
const gateway = (ip: string) => ip.replace(/\.\d+$/, '.1');
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });

function network(): void {
  sh('ip', ['link', 'set', 'lo', 'up']);
  // A bridge without ports (this kernel has no dummy driver): the node IP lives on it,
  // and the default route points into it, where packets end.
  sh('ip', ['link', 'add', 'e2e0', 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${nodeIp}/24`, 'dev', 'e2e0']);
  sh('ip', ['link', 'set', 'e2e0', 'up']);
  sh('ip', ['route', 'add', 'default', 'via', gateway(nodeIp), 'dev', 'e2e0', 'onlink']);
}

function mounts(): void {
  for (const d of kubeletDirs) {
    const src = path.join(work, 'host', d.replaceAll('/', '_'));
    mkdirSync(src, { recursive: true });
    sh('mount', ['--bind', src, d]);
  }
  for (const p of ['/usr/bin/systemd-run']) if (existsSync(p)) sh('mount', ['--bind', '/dev/null', p]);
  // The kubelet "fixes" these host-wide sysctls at start (kernel.panic=10,
  // panic_on_oops=1, overcommit_memory=1, …); here it writes to copies instead.
  for (const name of kernelTunables) {
    const copy = path.join(work, 'sysctl', name.replaceAll('/', '_'));
    mkdirSync(path.dirname(copy), { recursive: true });
    writeFileSync(copy, readFileSync(path.join('/proc/sys', name)));
    sh('mount', ['--bind', copy, path.join('/proc/sys', name)]);
  }
}

/** The sysctls the kubelet's container manager sets (pkg/kubelet/cm setupKernelTunables). */
const kernelTunables = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];

async function startRegistry(): Promise<ChildProcess> {
  const state = process.env.BERTH_TEST_STATE ?? '/var/tmp/berth-test';
  const config = path.join(work, 'registry.yml');
  writeFileSync(config, [
    'version: 0.1', 'log: { level: warn }',
    `storage: { filesystem: { rootdirectory: ${state}/registry/data }, maintenance: { readonly: { enabled: true } } }`,
    `http: { addr: ${registry} }`,
  ].join('\n'));
  const p = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://${registry}/v2/`);
      if (r.ok) return p;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node-e2e: the registry did not come up on ${registry} inside the namespace`);
}

async function removeAllPods(inst: Awaited<ReturnType<typeof startInstance>>): Promise<number> {
  const { items } = await inst.rt.listPodSandbox({});
  for (const p of items) {
    await inst.rt.stopPodSandbox({ podSandboxId: p.id });
    await inst.rt.removePodSandbox({ podSandboxId: p.id });
  }
  return items.length;
}

function ginkgo(args: string[]): Promise<number> {
  return new Promise<number>((resolve) => {
    const p = spawn(path.join(bin, 'ginkgo'), args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: work });
    p.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1)));
  });
}

async function main(): Promise<void> {
  network();
  mounts();
  const reg = await startRegistry();
  const inst = await startInstance({
    env: { CONTAINERS_REGISTRIES_CONF: registriesConf() },
    // The RuntimeClass specs (PodOverhead among them) run handler "test-handler".
    extraRuntimes: { 'test-handler': 'runc' },
  });
  let rc = 1;
  try {
    // berthd in a cgroup of its own, as on a node: the kubelet reports it as the "runtime"
    // system container.
    native.cgroupCreate(cgroups.runtime);
    for (const dir of native.cgroupExisting(cgroups.runtime)) writeFileSync(path.join(dir, 'cgroup.procs'), String(inst.proc.pid));
    const kubeletFlags = [
      // This host's cgroups are v1 (hybrid): the kubelet refuses v1 unless told otherwise.
      '--fail-cgroupv1=false',
      // The system containers under the run's own cgroup (run.ts removes it), not the
      // suite's /kubelet and /system. The processes the kubelet moves into "misc" are only
      // this PID namespace's: cgroup.procs lists no others here. (The pods stay under
      // /kubepods: the Kubelet Cgroup Manager specs look for them there, whatever the
      // kubelet's cgroup root.)
      `--kubelet-cgroups=${cgroups.kubelet}`, `--system-cgroups=${cgroups.misc}`, `--runtime-cgroups=${cgroups.runtime}`,
      `--node-ip=${nodeIp}`,
    ];
    const args = [
      `--procs=${process.env.NODE_E2E_PROCS ?? '6'}`, '--no-color', `--timeout=${process.env.NODE_E2E_TIMEOUT ?? '90m'}`,
      `--focus=${env('NODE_E2E_FOCUS')}`, `--skip=${env('NODE_E2E_SKIP')}`,
      `--junit-report=${env('NODE_E2E_JUNIT')}`,
      ...(process.env.NODE_E2E_DRY_RUN === '1' ? ['--dry-run'] : []),
      path.join(bin, 'e2e_node.test'), '--',
      `--container-runtime-endpoint=unix://${inst.socket}`, `--image-service-endpoint=unix://${inst.socket}`,
      '--prepull-images=false', `--report-dir=${path.join(work, 'report')}`,
      `--kubelet-flags=${kubeletFlags.join(' ')}`,
    ];
    console.error(`node-e2e: ginkgo ${args.join(' ')}`);
    rc = await ginkgo(args);
  } finally {
    const left = await removeAllPods(inst).catch((e: Error) => (console.error(`node-e2e: removing pods: ${e.message}`), -1));
    if (left) console.error(`node-e2e: ${left} pod(s) were still there after the suite; removed`);
    try {
      await inst.cleanup();
    } catch (e) {
      console.error(`node-e2e: ${(e as Error).message}`);
      rc ||= 1;
    }
    reg.kill();
  }
  writeFileSync(env('NODE_E2E_RESULT'), String(rc));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
