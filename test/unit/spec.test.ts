import test from 'ava';
import { ContainerConfig, type DeepPartial, NamespaceMode } from '../../src/gen/runtime/v1/api.js';
import { capabilities, DEFAULT_CAPS, generateSpec, mergeEnv, processArgs, validateSysctls, workingDir } from '../../src/oci/spec.js';

const cfg = (p: DeepPartial<ContainerConfig>) => ContainerConfig.fromPartial(p);

test('command/args merge as Docker does', (t) => {
  const img = { Entrypoint: ['/ep'], Cmd: ['def'] };
  t.deepEqual(processArgs(cfg({}), img), ['/ep', 'def']);
  t.deepEqual(processArgs(cfg({ args: ['x'] }), img), ['/ep', 'x']);
  t.deepEqual(processArgs(cfg({ command: ['/bin/sh'], args: ['-c', 'y'] }), img), ['/bin/sh', '-c', 'y']);
  t.deepEqual(processArgs(cfg({ command: ['/c'] }), img), ['/c']);
  t.throws(() => processArgs(cfg({}), {}), { message: /no command/ });
});

test('env: image first, CRI overrides, PATH default', (t) => {
  t.deepEqual(mergeEnv({ Env: ['A=1', 'B=2'] }, [{ key: 'B', value: Buffer.from('3') }]), [
    'A=1', 'B=3', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ]);
  t.deepEqual(mergeEnv({ Env: ['PATH=/x'] }, []), ['PATH=/x']);
});

test('capabilities: default set, add/drop, ALL means berthd\'s own bounding set', (t) => {
  const bounding = [...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN'];
  t.deepEqual(capabilities(cfg({}), bounding).sort(), [...DEFAULT_CAPS].sort());
  const c = capabilities(cfg({ linux: { securityContext: { capabilities: { addCapabilities: ['NET_ADMIN', 'SYS_RESOURCE'], dropCapabilities: ['KILL'] } } } }), bounding);
  t.true(c.includes('CAP_NET_ADMIN'));
  t.false(c.includes('CAP_SYS_RESOURCE'), 'not held by berthd, so not granted');
  t.false(c.includes('CAP_KILL'));
  t.deepEqual(capabilities(cfg({ linux: { securityContext: { capabilities: { addCapabilities: ['ALL'] } } } }), bounding).sort(), [...bounding].sort());
  t.deepEqual(capabilities(cfg({ linux: { securityContext: { capabilities: { dropCapabilities: ['ALL'] } } } }), bounding), []);
  t.deepEqual(capabilities(cfg({ linux: { securityContext: { privileged: true } } }), bounding), bounding);
});

const base = {
  ociVersion: '1.0.2', image: {}, rootfs: '/r', hostname: 'h', cgroupsPath: '/c', podFiles: [],
  boundingCaps: DEFAULT_CAPS, minOomScoreAdj: -1000, sysctls: {},
};
const pidNs = (s: Record<string, unknown>) => ((s.linux as { namespaces: Array<{ type: string; path?: string }> }).namespaces).filter((n) => n.type === 'pid');

test('PID namespace modes: POD (the default) joins the pause, CONTAINER is new, NODE is the host, TARGET the target', (t) => {
  const withPid = (pid: number | undefined) => cfg({ command: ['x'], ...(pid === undefined ? {} : { linux: { securityContext: { namespaceOptions: { pid } } } }) });
  t.deepEqual(pidNs(generateSpec({ ...base, container: withPid(undefined), podNamespaces: { pid: '/ns/pid' } })), [{ type: 'pid', path: '/ns/pid' }]);
  t.deepEqual(pidNs(generateSpec({ ...base, container: withPid(NamespaceMode.CONTAINER), podNamespaces: {} })), [{ type: 'pid' }]);
  t.deepEqual(pidNs(generateSpec({ ...base, container: withPid(NamespaceMode.NODE), podNamespaces: {} })), []);
  t.deepEqual(pidNs(generateSpec({ ...base, container: withPid(NamespaceMode.TARGET), podNamespaces: {}, targetPidNs: '/proc/9/ns/pid' })), [{ type: 'pid', path: '/proc/9/ns/pid' }]);
  t.throws(() => generateSpec({ ...base, container: withPid(NamespaceMode.POD), podNamespaces: {} }), { message: /without PID sharing/ });
});

test('spec joins the pod namespaces, clamps oom_score_adj and carries the cgroup path', (t) => {
  const spec = generateSpec({
    ociVersion: '1.0.2',
    container: cfg({ metadata: { name: 'c' }, command: ['sleep', '1'], linux: { resources: { oomScoreAdj: -998n, memoryLimitInBytes: 1048576n } } }),
    image: { WorkingDir: '/w' },
    rootfs: '/r',
    hostname: 'h',
    podNamespaces: { network: '/ns/net', ipc: '/ns/ipc', uts: '/ns/uts', pid: '/ns/pid' },
    cgroupsPath: '/berth/pod-1/berth-2',
    podFiles: [{ destination: '/etc/hosts', source: '/p/hosts' }],
    boundingCaps: DEFAULT_CAPS,
    minOomScoreAdj: 0,
    sysctls: {},
  }) as { process: { oomScoreAdj: number; cwd: string }; linux: { namespaces: unknown[]; cgroupsPath: string; resources: { memory: { limit: number } } }; mounts: Array<{ destination: string }>; ociVersion: string };
  t.is(spec.ociVersion, '1.0.2');
  t.is(spec.process.oomScoreAdj, 0);
  t.is(spec.process.cwd, '/w');
  t.deepEqual(spec.linux.namespaces, [{ type: 'mount' }, { type: 'pid', path: '/ns/pid' }, { type: 'network', path: '/ns/net' }, { type: 'ipc', path: '/ns/ipc' }, { type: 'uts', path: '/ns/uts' }]);
  t.is(spec.linux.cgroupsPath, '/berth/pod-1/berth-2');
  t.is(spec.linux.resources.memory.limit, 1048576);
  t.true(spec.mounts.some((m) => m.destination === '/etc/hosts'));
  t.is(NamespaceMode.CONTAINER, 1);
});

test('sysctls: only namespaced ones the pod owns', (t) => {
  t.notThrows(() => validateSysctls({ 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shm_rmid_forced': '1' }, false, false));
  t.throws(() => validateSysctls({ 'kernel.core_pattern': 'x' }, false, false), { message: /not namespaced/ });
  t.throws(() => validateSysctls({ 'net.core.somaxconn': '1' }, true, false), { message: /host network/ });
  t.throws(() => validateSysctls({ 'kernel.msgmax': '1' }, false, true), { message: /host IPC/ });
  t.throws(() => validateSysctls({ 'net.ipv4.ip_forward': '1+kernel.x=1' }, false, false), { message: /not allowed/ });
});

test('working dir: CRI over image over /; nothing under /proc (CVE-2024-21626)', (t) => {
  t.is(workingDir('', undefined), '/');
  t.is(workingDir('', 'app'), '/app');
  t.is(workingDir('/w/../x', '/img'), '/x');
  t.throws(() => workingDir('/proc/self/fd/7', undefined), { message: /working_dir "\/proc\/self\/fd\/7" is under \/proc/ });
  t.throws(() => workingDir('', '/proc/self/fd/8'), { message: /the image WorkingDir .* under \/proc/ });
  t.throws(() => workingDir('/x/../proc', undefined), { message: /under \/proc/ });
});
