// userns_options rules and reading idmapped-mount support from `<runtime> features`.
import test from 'ava';
import { NamespaceMode, UserNamespace } from '../../src/gen/runtime/v1/api.js';
import { checkUsernsOptions, idmapFromFeatures, wantsUserns } from '../../src/oci/userns.js';

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

test('idmapped mounts count only when `features` says linux.mountExtensions.idmap.enabled', (t) => {
  t.deepEqual(idmapFromFeatures(0, JSON.stringify({ linux: { mountExtensions: { idmap: { enabled: true } } } }), ''), { idmap: true });
  t.deepEqual(idmapFromFeatures(0, JSON.stringify({ linux: { mountExtensions: { idmap: { enabled: false } } } }), ''), { idmap: false, reason: '`features` lists no linux.mountExtensions.idmap' });
  t.deepEqual(idmapFromFeatures(0, JSON.stringify({ ociVersionMax: '1.0.2-dev' }), ''), { idmap: false, reason: '`features` lists no linux.mountExtensions.idmap' });
  t.deepEqual(idmapFromFeatures(1, '', 'unknown command features\n'), { idmap: false, reason: '`features` failed: unknown command features' });
  t.is(idmapFromFeatures(0, 'not json', '').reason, '`features` did not print JSON');
});
