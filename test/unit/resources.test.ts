import test from 'ava';
import { ContainerConfig, type DeepPartial } from '../../src/gen/runtime/v1/api.js';
import { cgroupCaps, checkPermissions, type HostDevice, linuxDevices, resources } from '../../src/oci/resources.js';

const cfg = (p: DeepPartial<ContainerConfig>) => ContainerConfig.fromPartial(p);
const hybrid = { mode: 'hybrid', unifiedControllers: ['hugetlb'], mountpoints: ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified'] };

test('cgroup capabilities: hugetlb counts only in the hierarchy the runtime uses', (t) => {
  t.deepEqual(cgroupCaps(hybrid), { v2: false, hugetlb: false });
  t.deepEqual(cgroupCaps({ ...hybrid, mode: 'v1', mountpoints: ['/sys/fs/cgroup/hugetlb'] }), { v2: false, hugetlb: true });
  t.deepEqual(cgroupCaps({ mode: 'v2', unifiedControllers: ['cpu', 'memory', 'hugetlb'], mountpoints: ['/sys/fs/cgroup'] }), { v2: true, hugetlb: true });
});

test('hugepage limits only where hugetlb is usable; unified only on v2, with plain keys', (t) => {
  const c = cfg({ linux: { resources: { hugepageLimits: [{ pageSize: '2MB', limit: 0n }, { pageSize: '1GB', limit: 1073741824n }], unified: {} } } });
  t.is(resources(c, [], { v2: false, hugetlb: false }, false).hugepageLimits, undefined);
  t.deepEqual(resources(c, [], { v2: false, hugetlb: true }, false).hugepageLimits, [{ pageSize: '2MB', limit: 0 }, { pageSize: '1GB', limit: 1073741824 }]);
  const u = cfg({ linux: { resources: { unified: { 'memory.high': '1000000' } } } });
  t.deepEqual(resources(u, [], { v2: true, hugetlb: true }, false).unified, { 'memory.high': '1000000' });
  t.throws(() => resources(u, [], { v2: false, hugetlb: false }, false), { message: /cgroup v2 host/ });
  t.throws(() => resources(cfg({ linux: { resources: { unified: { '../x': '1' } } } }), [], { v2: true, hugetlb: true }, false), { message: /not a cgroup v2 file name/ });
});

test('devices: deny all then each device with its access; privileged allows all', (t) => {
  const d: HostDevice = { path: '/dev/xnull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0, access: 'r' };
  t.deepEqual(resources(cfg({}), [d], undefined, false).devices, [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]);
  t.deepEqual(resources(cfg({}), [d], undefined, true).devices, [{ allow: true, access: 'rwm' }]);
  t.deepEqual(linuxDevices([d]), [{ path: '/dev/xnull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }]);
  t.is(checkPermissions('p', ''), 'rwm');
  t.is(checkPermissions('p', 'rw'), 'rw');
  t.throws(() => checkPermissions('p', 'rx'), { message: /subset of "rwm"/ });
  t.throws(() => checkPermissions('p', 'rr'), { message: /subset/ });
});
