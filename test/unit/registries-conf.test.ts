import test from 'ava';
import { RegistriesConf, isLoopback } from '../../src/registry/registries-conf.js';

test('no entry: the registry itself, plain HTTP only on loopback', (t) => {
  const c = RegistriesConf.empty();
  t.deepEqual(c.endpoints('127.0.0.1:5100/busybox').endpoints, [{ location: '127.0.0.1:5100', insecure: true, repository: 'busybox' }]);
  t.deepEqual(c.endpoints('quay.io/a/b').endpoints, [{ location: 'quay.io', insecure: false, repository: 'a/b' }]);
  t.true(isLoopback('localhost:5000'));
  t.false(isLoopback('10.0.0.1:5000'));
});

test('prefix rewrite, mirrors in order, insecure and blocked (registries.conf v2)', (t) => {
  const c = RegistriesConf.parse(`
[[registry]]
prefix = "registry.k8s.io"
location = "127.0.0.1:5100/k8s"
[[registry.mirror]]
location = "mirror.example:5000"
insecure = true

[[registry]]
prefix = "bad.example"
blocked = true
`);
  t.deepEqual(c.endpoints('registry.k8s.io/pause').endpoints, [
    { location: 'mirror.example:5000', insecure: true, repository: 'pause' },
    { location: '127.0.0.1:5100', insecure: true, repository: 'k8s/pause' },
  ]);
  t.true(c.endpoints('bad.example/x').blocked);
  t.throws(() => RegistriesConf.parse('[[registry]\n'), { message: /registries.conf/ });
});

test('a loopback registry is insecure unless its entry says insecure = false', (t) => {
  const c = RegistriesConf.parse(`
[[registry]]
location = "127.0.0.1:5443"
insecure = false
[[registry]]
location = "127.0.0.1:5444"
`);
  t.false(c.endpoints('127.0.0.1:5443/a').endpoints[0]!.insecure);
  t.true(c.endpoints('127.0.0.1:5444/a').endpoints[0]!.insecure);
});

test('unqualified-search-registries and short-name-mode are read and checked', (t) => {
  t.deepEqual(RegistriesConf.parse('unqualified-search-registries = ["quay.io", "127.0.0.1:5100"]\nshort-name-mode = "enforcing"').searchRegistries, ['quay.io', '127.0.0.1:5100']);
  t.deepEqual(RegistriesConf.empty().searchRegistries, []);
  t.throws(() => RegistriesConf.parse('unqualified-search-registries = "quay.io"'), { message: /unqualified-search-registries/ });
  t.throws(() => RegistriesConf.parse('short-name-mode = "ask"'), { message: /short-name-mode/ });
});
