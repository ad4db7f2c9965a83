import test from 'ava';
import { ContainerConfig, type DeepPartial, MountPropagation } from '../../src/gen/runtime/v1/api.js';
import { checkPropagation, ociMounts, parseMountInfo, recursiveReadOnlyHook, rootfsPropagation } from '../../src/oci/mounts.js';

const cfg = (p: DeepPartial<ContainerConfig>) => ContainerConfig.fromPartial(p);
const MOUNTINFO = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '90 27 254:0 /tmp/a /tmp/shared\\040dir rw,relatime shared:7 - ext4 /dev/vda rw',
  '91 27 254:0 /tmp/b /tmp/slave rw,relatime master:7 - ext4 /dev/vda rw',
  '',
].join('\n');
const same = (p: string) => p;

test('mountinfo parses mount points (octal escapes) and propagation tags', (t) => {
  t.deepEqual(parseMountInfo(MOUNTINFO), [
    { mountPoint: '/', shared: false, slave: false },
    { mountPoint: '/tmp/shared dir', shared: true, slave: false },
    { mountPoint: '/tmp/slave', shared: false, slave: true },
  ]);
});

test('propagation: rootfsPropagation and the host-side checks', async (t) => {
  const m = (hostPath: string, propagation: MountPropagation) => cfg({ mounts: [{ hostPath, containerPath: '/m', propagation }] });
  let reads = 0;
  const info = () => {
    reads++;
    return Promise.resolve(MOUNTINFO);
  };
  t.is(rootfsPropagation(m('/x', MountPropagation.PROPAGATION_BIDIRECTIONAL)), 'rshared');
  t.is(rootfsPropagation(m('/x', MountPropagation.PROPAGATION_HOST_TO_CONTAINER)), 'rslave');
  t.is(rootfsPropagation(m('/x', MountPropagation.PROPAGATION_PRIVATE)), undefined);
  await t.notThrowsAsync(checkPropagation(m('/etc', MountPropagation.PROPAGATION_PRIVATE), info, same));
  t.is(reads, 0, 'mountinfo is read only when a mount asks for propagation');
  await t.notThrowsAsync(checkPropagation(m('/tmp/shared dir/sub', MountPropagation.PROPAGATION_BIDIRECTIONAL), info, same));
  await t.notThrowsAsync(checkPropagation(m('/tmp/slave', MountPropagation.PROPAGATION_HOST_TO_CONTAINER), info, same));
  t.is(reads, 2);
  await t.throwsAsync(checkPropagation(m('/tmp/slave', MountPropagation.PROPAGATION_BIDIRECTIONAL), info, same), {
    name: 'BerthError(FailedPrecondition)', message: /"\/tmp\/slave" is mounted on "\/tmp\/slave" but it is not a shared mount/,
  });
  await t.throwsAsync(checkPropagation(m('/etc', MountPropagation.PROPAGATION_HOST_TO_CONTAINER), info, same), { message: /not a shared or slave mount/ });
  // /tmp/shared dirx is not beneath "/tmp/shared dir"
  await t.throwsAsync(checkPropagation(m('/tmp/shared dirx', MountPropagation.PROPAGATION_BIDIRECTIONAL), info, same), { message: /mounted on "\/"/ });
});

test('image volumes bind their prepared directory read-only', (t) => {
  const c = cfg({ mounts: [{ containerPath: '/mnt/v', readonly: true, image: { image: 'sha256:abc' } }] });
  const v = ociMounts({ container: c, podFiles: [], imageVolumes: { '/mnt/v': '/run/b/c/imagevol-0' } }).at(-1);
  t.deepEqual(v, { destination: '/mnt/v', type: 'bind', source: '/run/b/c/imagevol-0', options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev'] });
  t.throws(() => ociMounts({ container: c, podFiles: [] }), { message: /was not prepared/ });
});

test('recursive read-only mounts run berth-monitor rro as a createContainer hook', (t) => {
  const c = cfg({ mounts: [{ hostPath: '/h', containerPath: '/a', readonly: true, recursiveReadOnly: true }, { hostPath: '/h', containerPath: '/b', readonly: true }] });
  t.deepEqual(recursiveReadOnlyHook(c, '/r', '/bin/berth-monitor'), { createContainer: [{ path: '/bin/berth-monitor', args: ['berth-monitor', 'rro', '/r', '/a'] }] });
  t.is(recursiveReadOnlyHook(cfg({ mounts: [{ hostPath: '/h', containerPath: '/b' }] }), '/r', '/m'), undefined);
  t.throws(() => recursiveReadOnlyHook(c, '/r', undefined), { message: /berth-monitor/ });
});
