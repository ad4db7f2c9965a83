// The systemd cgroup driver's slice → cgroupfs path mapping (runc's ExpandSlice, which
// systemd's own layout follows), container scopes, and the host check. PID 1 is not
// systemd on the machines berth is tested on, so this is the driver's only test of paths;
// test/integration/cgroup-driver.test.ts checks the not-ready path for real.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { BerthError } from '../../src/errors.js';
import { containerCgroup, driverProblem, expandSlice } from '../../src/oci/cgroup-driver.js';

test('a slice expands to one directory per dash-separated prefix, as systemd lays it out', (t) => {
  t.is(expandSlice('kubepods.slice'), '/kubepods.slice');
  t.is(expandSlice('kubepods-besteffort.slice'), '/kubepods.slice/kubepods-besteffort.slice');
  t.is(expandSlice('kubepods-burstable-pod1234_5678.slice'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice');
  t.is(expandSlice('a-b-c.slice'), '/a.slice/a-b.slice/a-b-c.slice');
  t.is(expandSlice('system.slice'), '/system.slice');
  t.is(expandSlice('-.slice'), '/', 'the root slice');
});

test('what systemd would refuse as a slice name is INVALID_ARGUMENT naming cgroup_parent', (t) => {
  for (const bad of ['', '.slice', 'kubepods', '/kubepods.slice', 'a/b.slice', 'a--b.slice', '-a.slice', 'a-.slice', 'kube pods.slice', '../x.slice', 'x.scope']) {
    const e = t.throws(() => expandSlice(bad), undefined, bad);
    t.true(e instanceof BerthError && e.kind === 'InvalidArgument', bad);
    t.regex(e!.message, /cgroup_parent/);
  }
});

test('a container is a berth-<id>.scope in its pod slice (runc slice:prefix:name); cgroupfs keeps the path', (t) => {
  const id = 'a'.repeat(64);
  t.deepEqual(containerCgroup({ cgroupPath: '/kubepods.slice/kubepods-pod1.slice', systemdSlice: 'kubepods-pod1.slice' }, id), {
    oci: `kubepods-pod1.slice:berth:${id}`,
    path: `/kubepods.slice/kubepods-pod1.slice/berth-${id}.scope`,
    systemd: true,
  });
  t.deepEqual(containerCgroup({ cgroupPath: '/berth/pod-1' }, id), { oci: `/berth/pod-1/berth-${id}`, path: `/berth/pod-1/berth-${id}`, systemd: false });
});

test('the systemd driver needs a running systemd (sd_booted: /run/systemd/system); cgroupfs needs nothing', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-sd-'));
  try {
    t.is(driverProblem('cgroupfs', root), undefined);
    t.regex(driverProblem('systemd', root)!, /systemd is not running/);
    mkdirSync(path.join(root, 'run', 'systemd', 'system'), { recursive: true });
    t.is(driverProblem('systemd', root), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroup_driver takes "cgroupfs" (the default) or "systemd", nothing else', (t) => {
  t.is(loadConfig(['--config', '/dev/null'], {}).cgroupDriver, 'cgroupfs');
  t.is(loadConfig(['--config', '/dev/null', '--cgroup-driver', 'systemd'], {}).cgroupDriver, 'systemd');
  t.throws(() => loadConfig(['--config', '/dev/null', '--cgroup-driver', 'cgroupv2'], {}), { message: /cgroup_driver "cgroupv2": expected "cgroupfs" or "systemd"/ });
});
