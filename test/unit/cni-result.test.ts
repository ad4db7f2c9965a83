import test from 'ava';
import { compareVersions, podIps, toCurrent, toVersion } from '../../src/cni/result.js';

const v040 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'bt0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/run/netns/x' }],
  ips: [
    { version: '6', address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 },
    { version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 2 },
  ],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: {},
};

test('compareVersions orders numerically', (t) => {
  t.true(compareVersions('0.10.0', '0.4.0') > 0);
  t.is(compareVersions('1.0.0', '1.0.0'), 0);
  t.true(compareVersions('0.3.1', '1.1.0') < 0);
});

test('a 0.4.0 result becomes 1.x (no ip versions) and converts back', (t) => {
  const cur = toCurrent(v040);
  t.is(cur.cniVersion, '1.0.0');
  t.deepEqual(cur.ips![1], { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 2 });
  const back = toVersion(cur, '0.4.0') as typeof v040;
  t.is(back.cniVersion, '0.4.0');
  t.deepEqual(back.ips, v040.ips);
  t.deepEqual((toVersion(cur, '1.0.0') as { ips: unknown[] }).ips, cur.ips, '1.0.0 has no ip versions');
});

test('a 0.2.0 result (ip4/ip6) becomes 1.x and converts back', (t) => {
  const old = { cniVersion: '0.2.0', ip4: { ip: '10.2.0.7/16', gateway: '10.2.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.2.0.1' }] }, ip6: { ip: 'fd01::7/64' }, dns: { nameservers: ['10.2.0.10'] } };
  const cur = toCurrent(old);
  t.deepEqual(cur.ips, [{ address: '10.2.0.7/16', gateway: '10.2.0.1' }, { address: 'fd01::7/64' }]);
  t.deepEqual(cur.routes, [{ dst: '0.0.0.0/0', gw: '10.2.0.1' }]);
  t.deepEqual(podIps(cur, 'eth0'), ['10.2.0.7', 'fd01::7']);
  t.deepEqual(toVersion(cur, '0.2.0'), old);
});

test('a result without cniVersion is read as 0.2.0; a non-object is refused', (t) => {
  t.deepEqual(toCurrent({ ip4: { ip: '10.3.0.2/24' } }).ips, [{ address: '10.3.0.2/24' }]);
  t.throws(() => toCurrent('x'), { message: /JSON object/ });
  t.throws(() => toCurrent([1]), { message: /JSON object/ });
});

test('podIps: the sandbox eth0 addresses only, IPv4 first', (t) => {
  const r = toCurrent({
    ...v040,
    ips: [...v040.ips, { version: '4', address: '10.9.9.1/24', interface: 0 }, { version: '4', address: '10.1.0.6/24' }],
  });
  t.deepEqual(podIps(r, 'eth0'), ['10.1.0.5', '10.1.0.6', 'fd00::5']);
  t.deepEqual(podIps(r, 'net1'), ['10.1.0.6'], 'an IP without interface index is taken as the pod\'s');
});
