// userns_options rules, the pod's mappings, the spec's part and where a container's ids land.
import test from 'ava';
import { NamespaceMode, UserNamespace } from '../../src/gen/runtime/v1/api.js';
import { hostIdOf } from '../../src/oci/idmap.js';
import { checkContainerUserns, checkUsernsOptions, podUsernsMaps, usernsSpec, wantsUserns } from '../../src/oci/userns.js';

const map = [{ hostId: 100000, containerId: 0, length: 65536 }];
const u = (x: Partial<UserNamespace>) => UserNamespace.fromPartial(x);

test('userns_options: POD with mappings or NODE without; CONTAINER and TARGET are refused', (t) => {
  t.notThrows(() => checkUsernsOptions('f', undefined));
  t.notThrows(() => checkUsernsOptions('f', u({ mode: NamespaceMode.NODE })));
  t.notThrows(() => checkUsernsOptions('f', u({ mode: NamespaceMode.POD, uids: map, gids: map })));
  t.throws(() => checkUsernsOptions('f', u({ mode: NamespaceMode.CONTAINER })), { message: /f\.mode CONTAINER: a user namespace is POD or NODE only/ });
  t.throws(() => checkUsernsOptions('f', u({ mode: NamespaceMode.TARGET })), { message: /POD or NODE only/ });
  t.throws(() => checkUsernsOptions('f', u({ mode: NamespaceMode.NODE, uids: map })), { message: /takes no uid\/gid mappings/ });
  t.throws(() => checkUsernsOptions('f', u({ mode: NamespaceMode.POD, uids: map })), { message: /needs uid and gid mappings/ });
  t.false(wantsUserns(undefined));
  t.false(wantsUserns(u({ mode: NamespaceMode.NODE })));
  t.true(wantsUserns(u({ mode: NamespaceMode.POD, uids: map, gids: map })));
});

const noHost = { network: false, ipc: false, pid: false };
const maps = { uids: [{ containerId: 0, hostId: 100000, length: 65536 }], gids: [{ containerId: 0, hostId: 100000, length: 65536 }] };

test('the pod\'s mappings: root mapped, 32-bit ranges, no host namespaces beside them', (t) => {
  t.deepEqual(podUsernsMaps(u({ mode: NamespaceMode.POD, uids: map, gids: map }), noHost), maps);
  const shifted = [{ hostId: 100000, containerId: 1, length: 10 }];
  t.throws(() => podUsernsMaps(u({ mode: NamespaceMode.POD, uids: shifted, gids: map }), noHost), { message: /uids: container id 0 \(root\) must be mapped/ });
  t.throws(() => podUsernsMaps(u({ mode: NamespaceMode.POD, uids: map, gids: [{ hostId: 2 ** 32 - 10, containerId: 0, length: 65536 }] }), noHost), { message: /gids: range .* beyond 32 bits/ });
  t.throws(() => podUsernsMaps(u({ mode: NamespaceMode.POD, uids: map, gids: map }), { ...noHost, network: true, pid: true }), { message: /cannot use the host's network\/pid namespace/ });
});

test('a container repeats its pod\'s user namespace or leaves it out', (t) => {
  t.notThrows(() => checkContainerUserns(undefined, maps));
  t.notThrows(() => checkContainerUserns(u({ mode: NamespaceMode.POD, uids: map, gids: map }), maps));
  t.notThrows(() => checkContainerUserns(u({ mode: NamespaceMode.NODE }), undefined));
  t.throws(() => checkContainerUserns(u({ mode: NamespaceMode.POD, uids: map, gids: map }), undefined), { message: /pod sandbox runs in the host's/ });
  t.throws(() => checkContainerUserns(u({ mode: NamespaceMode.NODE }), maps), { message: /pod sandbox has its own/ });
  t.throws(() => checkContainerUserns(u({ mode: NamespaceMode.POD, uids: [{ ...map[0]!, hostId: 200000 }], gids: map }), maps), { message: /mappings differ/ });
});

test('the spec joins the pinned namespace with OCI mappings; host ids of container ids', (t) => {
  t.deepEqual(usernsSpec('/run/p/ns/user', maps), {
    namespace: { type: 'user', path: '/run/p/ns/user' },
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  });
  t.is(hostIdOf(maps.uids, 0), 100000);
  t.is(hostIdOf(maps.uids, 65535), 165535);
  t.is(hostIdOf(maps.uids, 65536), undefined);
});
