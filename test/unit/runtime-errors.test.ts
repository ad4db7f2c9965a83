import test from 'ava';
import { classifyRuntimeError } from '../../src/oci/runtime-errors.js';

test('a command the image cannot execute is the request\'s fault; anything else is INTERNAL', (t) => {
  t.is(classifyRuntimeError('runc create failed: unable to start container process: exec: "/no/such": stat /no/such: no such file or directory'), 'InvalidArgument');
  t.is(classifyRuntimeError('unable to start container process: exec: "nosuch": executable file not found in $PATH'), 'InvalidArgument');
  t.is(classifyRuntimeError('unable to start container process: exec: "/etc/passwd": permission denied'), 'InvalidArgument');
  t.is(classifyRuntimeError('executable file `nosuch` not found in $PATH: No such file or directory'), 'InvalidArgument');
  t.is(classifyRuntimeError('runc create failed: unable to apply cgroup configuration: mkdir /sys/fs/cgroup/x: permission denied'), 'Internal');
  t.is(classifyRuntimeError('cgroups in hybrid mode not supported, drop all controllers from cgroupv2'), 'Internal');
});
