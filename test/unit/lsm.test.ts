import test from 'ava';
import { type LinuxContainerSecurityContext, SecurityProfile_ProfileType } from '../../src/gen/runtime/v1/api.js';
import { lsmFor } from '../../src/oci/lsm.js';

const sc = (p: Partial<LinuxContainerSecurityContext>) => p as LinuxContainerSecurityContext;
const off = { apparmor: false, selinux: false };
const on = { apparmor: true, selinux: true };

test('AppArmor: Localhost needs AppArmor on the node; RuntimeDefault/Unconfined add nothing', (t) => {
  const local = sc({ apparmor: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: 'k8s-nginx' } });
  t.throws(() => lsmFor(local, off), { name: 'BerthError(FailedPrecondition)', message: /"k8s-nginx" asked for, but AppArmor is not enabled/ });
  t.deepEqual(lsmFor(local, on), { apparmorProfile: 'k8s-nginx' });
  t.deepEqual(lsmFor(sc({ apparmorProfile: 'localhost/p' }), on), { apparmorProfile: 'p' });
  t.deepEqual(lsmFor(sc({ apparmor: { profileType: SecurityProfile_ProfileType.RuntimeDefault, localhostRef: '' } }), off), {});
  t.deepEqual(lsmFor(sc({ ...local, privileged: true }), off), {}, 'privileged containers run unconfined');
});

test('SELinux options become the label with SELinux on, and are ignored without it (as containerd does)', (t) => {
  const se = sc({ selinuxOptions: { user: '', role: '', type: 'spc_t', level: 's0:c1,c2' } });
  t.deepEqual(lsmFor(se, off), {});
  t.deepEqual(lsmFor(se, on), { selinuxLabel: 'system_u:system_r:spc_t:s0:c1,c2' });
  t.deepEqual(lsmFor(sc({ selinuxOptions: { user: '', role: '', type: '', level: '' } }), off), {});
});
