// cgroup_driver = "systemd" on this host, whose PID 1 is not systemd: berthd starts and
// serves, RuntimeConfig says SYSTEMD (what the kubelet must match), Status reports the
// runtime not ready with the reason, and RunPodSandbox refuses with that reason leaving
// nothing behind. A cgroupfs berthd refuses a slice as cgroup_parent (the kubelet's
// driver does not match). The slice → path mapping is unit-tested (test/unit/cgroup-driver).
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { type Instance, podConfig, startInstance } from '../helpers/instance.js';

let systemd: Instance;
let cgroupfs: Instance;
test.before(async () => {
  [systemd, cgroupfs] = await Promise.all([startInstance({ toml: 'cgroup_driver = "systemd"' }), startInstance()]);
});
test.after.always(async () => {
  await Promise.all([systemd?.cleanup(), cgroupfs?.cleanup()]);
});

const code = (e: unknown) => (e as { code?: number }).code;

test('the test host has no systemd (else this file tests nothing)', (t) => {
  t.false(existsSync('/run/systemd/system'));
});

test('RuntimeConfig reports the configured driver', async (t) => {
  t.is((await systemd.rt.runtimeConfig({})).linux?.cgroupDriver, 0); // SYSTEMD
  t.is((await cgroupfs.rt.runtimeConfig({})).linux?.cgroupDriver, 1); // CGROUPFS
});

test('with the systemd driver and no systemd, Status says RuntimeReady=false and why; NetworkReady is unaffected', async (t) => {
  const conds = (await systemd.rt.status({})).status!.conditions;
  const runtime = conds.find((c) => c.type === 'RuntimeReady')!;
  t.false(runtime.status);
  t.is(runtime.reason, 'CgroupDriverNotReady');
  t.regex(runtime.message, /systemd is not running/);
  t.true(conds.find((c) => c.type === 'NetworkReady')!.status);
  t.true((await cgroupfs.rt.status({})).status!.conditions.find((c) => c.type === 'RuntimeReady')!.status);
  await systemd.waitForLog(/runtime not ready: cgroup_driver is \\"systemd\\" but systemd is not running/);
});

test('with the systemd driver and no systemd, RunPodSandbox is FAILED_PRECONDITION with the reason and leaves nothing', async (t) => {
  for (const cgroupParent of ['kubepods-besteffort-pod123.slice', '']) {
    const e = await t.throwsAsync(systemd.rt.runPodSandbox({ config: podConfig('sd', { linux: { cgroupParent } }) }));
    t.is(code(e), status.FAILED_PRECONDITION);
    t.regex(e!.message, /systemd is not running on this host/);
  }
  t.deepEqual((await systemd.rt.listPodSandbox({})).items, []);
  t.deepEqual(systemd.leaks(), []);
});

test('a cgroupfs berthd refuses a systemd slice as cgroup_parent: INVALID_ARGUMENT saying the drivers differ', async (t) => {
  const e = await t.throwsAsync(cgroupfs.rt.runPodSandbox({ config: podConfig('slice', { linux: { cgroupParent: 'kubepods-besteffort-pod1.slice' } }) }));
  t.is(code(e), status.INVALID_ARGUMENT);
  t.regex(e!.message, /systemd slice.*cgroup_driver is "cgroupfs"/);
  t.deepEqual(cgroupfs.leaks(), []);
});
