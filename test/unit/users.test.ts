import test from 'ava';
import { ContainerConfig, type DeepPartial, SupplementalGroupsPolicy } from '../../src/gen/runtime/v1/api.js';
import { parseGroup, parsePasswd, resolveUser } from '../../src/oci/users.js';

const cfg = (p: DeepPartial<ContainerConfig>) => ContainerConfig.fromPartial(p);
const files = {
  passwd: 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\nnobody:x:65534:65534::/:/bin/false\ndefault-user:x:1000:1000::/home/d:/bin/sh\nbroken line\nbad:x:notanumber:1::/:/bin/sh\n',
  group: 'root:x:0:\nwww-data:x:33:\napp:x:1004:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user, www-data\n',
};

test('passwd and group parse like libc: malformed and non-numeric lines are skipped', (t) => {
  t.deepEqual(parsePasswd(files.passwd).map((p) => p.name), ['root', 'www-data', 'nobody', 'default-user']);
  t.deepEqual(parseGroup(files.group).at(-1), { name: 'group-defined-in-image', gid: 50000, members: ['default-user', 'www-data'] });
});

test('numeric users: run_as_user/run_as_group, image uid:gid, root by default', (t) => {
  t.deepEqual(resolveUser(cfg({ linux: { securityContext: { runAsUser: { value: 1000n }, runAsGroup: { value: 5n } } } }), undefined, {}), { uid: 1000, gid: 5, additionalGids: [5] });
  t.deepEqual(resolveUser(cfg({}), '33:44', {}), { uid: 33, gid: 44, additionalGids: [44] });
  t.deepEqual(resolveUser(cfg({}), undefined, {}), { uid: 0, gid: 0, additionalGids: [0] });
  // A uid found in /etc/passwd takes its primary group from there (as Docker does).
  t.deepEqual(resolveUser(cfg({}), '33', files), { uid: 33, gid: 33, additionalGids: [33, 50000] });
});

test('names resolve through the image files: user, user:group, uid:groupname', (t) => {
  t.deepEqual(resolveUser(cfg({ linux: { securityContext: { runAsUsername: 'nobody' } } }), undefined, files), { uid: 65534, gid: 65534, additionalGids: [65534] });
  t.deepEqual(resolveUser(cfg({}), 'www-data', files), { uid: 33, gid: 33, additionalGids: [33, 50000] });
  t.deepEqual(resolveUser(cfg({}), 'www-data:1004', files), { uid: 33, gid: 1004, additionalGids: [1004, 50000] });
  t.deepEqual(resolveUser(cfg({}), '33:app', files), { uid: 33, gid: 1004, additionalGids: [1004, 50000] });
  t.throws(() => resolveUser(cfg({}), 'ghost', files), { message: /"ghost" is not in the image's \/etc\/passwd/ });
  t.throws(() => resolveUser(cfg({}), 'www-data:ghosts', files), { message: /group "ghosts"/ });
  t.throws(() => resolveUser(cfg({}), 'app', {}), { message: /the image has none/ });
});

test('supplementary groups: Merge adds the image groups listing the user, Strict does not', (t) => {
  const sc = { runAsUser: { value: 1000n }, supplementalGroups: [1234n] };
  t.deepEqual(resolveUser(cfg({ linux: { securityContext: sc } }), '1000', files), { uid: 1000, gid: 1000, additionalGids: [1000, 50000, 1234] });
  t.deepEqual(resolveUser(cfg({ linux: { securityContext: { ...sc, supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict } } }), '1000', files), {
    uid: 1000, gid: 1000, additionalGids: [1000, 1234],
  });
});

test('ids out of range are INVALID_ARGUMENT', (t) => {
  t.throws(() => resolveUser(cfg({ linux: { securityContext: { runAsUser: { value: 1n << 32n } } } }), undefined, {}), { message: /run_as_user .* out of range/ });
  t.throws(() => resolveUser(cfg({ linux: { securityContext: { runAsUser: { value: 1n }, runAsGroup: { value: -1n } } } }), undefined, {}), { message: /run_as_group/ });
  t.throws(() => resolveUser(cfg({ linux: { securityContext: { supplementalGroups: [4294967295n] } } }), undefined, {}), { message: /supplemental_groups/ });
});

test('an unusable passwd/group (symlink, too large) fails only lookups by name', (t) => {
  const bad = { unusable: { passwd: '/etc/passwd: Too many levels of symbolic links', group: '/etc/group: larger than 4194304 bytes' } };
  t.deepEqual(resolveUser(cfg({}), '1000:1000', bad), { uid: 1000, gid: 1000, additionalGids: [1000] });
  t.throws(() => resolveUser(cfg({}), 'app', bad), { message: /user "app": the image's \/etc\/passwd cannot be used: .*symbolic links/ });
  t.throws(() => resolveUser(cfg({}), '1:grp', bad), { message: /group "grp": the image's \/etc\/group cannot be used: .*larger/ });
});

test('more supplementary groups than setgroups(2) takes is INVALID_ARGUMENT', (t) => {
  const group = Array.from({ length: 65537 }, (_, i) => `g${i}:x:${i + 1}:app`).join('\n');
  t.throws(() => resolveUser(cfg({}), 'app', { passwd: 'app:x:5:5::/:/bin/sh\n', group }), { message: /65537 groups; the kernel allows 65536/ });
});
