import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

test('[aliases]: short name → fully qualified repository, normalised, with the file it came from', (t) => {
  const c = RegistriesConf.parse('[aliases]\n"busybox" = "docker.io/busybox"\n"opensuse/leap" = "registry.opensuse.org/opensuse/leap"\n"bb" = "127.0.0.1:5100/busybox"\n', '/etc/r.conf');
  t.deepEqual(c.alias('busybox'), { target: 'docker.io/library/busybox', file: '/etc/r.conf' });
  t.is(c.alias('opensuse/leap')?.target, 'registry.opensuse.org/opensuse/leap');
  t.is(c.alias('bb')?.target, '127.0.0.1:5100/busybox');
  t.is(c.alias('alpine'), undefined);
});

test('a bad alias is INVALID_ARGUMENT naming the file and the key', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['"bb" = "127.0.0.1:5100/busybox:v1"', /must not carry a tag/],
    [`"bb" = "quay.io/a/b@sha256:${'a'.repeat(64)}"`, /must not carry a digest/],
    ['"bb" = "busybox"', /must be fully qualified/],
    ['"bb" = "library/busybox"', /must be fully qualified/],
    ['"bb" = "quay.io/UPPER"', /bad repository component/],
    ['"bb" = 3', /must be a string/],
    ['"quay.io/bb" = "quay.io/bb"', /short name without registry/],
    ['"bb:v1" = "quay.io/bb"', /short name without registry, tag or digest/],
  ];
  for (const [line, why] of bad) {
    const e = t.throws(() => RegistriesConf.parse(`[aliases]\n${line}\n`, '/etc/containers/registries.conf'), undefined, line);
    t.is((e as { kind?: string }).kind, 'InvalidArgument', line);
    t.regex(e!.message, /^\/etc\/containers\/registries\.conf: \[aliases\] "/, line);
    t.regex(e!.message, why, line);
  }
  t.throws(() => RegistriesConf.parse('aliases = ["x"]', 'f.conf'), { message: /f\.conf: \[aliases\] must be a table/ });
});

test('drop-ins in registries.conf.d/*.conf merge over the file in lexical order (containers-registries.conf.d(5))', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-regconf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'registries.conf');
  writeFileSync(
    file,
    ['unqualified-search-registries = ["quay.io"]', '[aliases]', '"a" = "quay.io/a"', '"b" = "quay.io/b"', '"c" = "quay.io/c"',
      '[[registry]]', 'prefix = "k8s.example"', 'location = "one.example"', '[[registry]]', 'location = "other.example"'].join('\n'),
  );
  mkdirSync(path.join(dir, 'registries.conf.d'));
  // 20 sorts after 10 and wins; "" drops an alias; a .conf-less name is not read.
  writeFileSync(path.join(dir, 'registries.conf.d', '20-b.conf'), '[aliases]\n"a" = "second.example/a"\n"c" = ""\n');
  writeFileSync(path.join(dir, 'registries.conf.d', '10-a.conf'), '[aliases]\n"a" = "first.example/a"\n"d" = "first.example/d"\n[[registry]]\nprefix = "k8s.example"\nlocation = "two.example"\n');
  writeFileSync(path.join(dir, 'registries.conf.d', '30-ignored.conf.bak'), '[aliases]\n"a" = "bak.example/a"\n');
  const c = RegistriesConf.load(file);
  t.deepEqual(c.alias('a'), { target: 'second.example/a', file: path.join(dir, 'registries.conf.d', '20-b.conf') });
  t.is(c.alias('b')?.target, 'quay.io/b');
  t.is(c.alias('c'), undefined);
  t.is(c.alias('d')?.target, 'first.example/d');
  // A [[registry]] with a prefix seen before replaces it; keys a drop-in does not set stay.
  t.is(c.endpoints('k8s.example/pause').endpoints[0]!.location, 'two.example');
  t.is(c.endpoints('other.example/x').endpoints[0]!.location, 'other.example');
  t.deepEqual(c.searchRegistries, ['quay.io']);
  writeFileSync(path.join(dir, 'registries.conf.d', '40-search.conf'), 'unqualified-search-registries = ["127.0.0.1:5100"]\n');
  t.deepEqual(RegistriesConf.load(file).searchRegistries, ['127.0.0.1:5100']);
  // An error in a drop-in names the drop-in; no main file at all still reads the drop-ins.
  writeFileSync(path.join(dir, 'registries.conf.d', '50-bad.conf'), '[aliases]\n"x" = "y"\n');
  t.throws(() => RegistriesConf.load(file), { message: new RegExp(`50-bad\\.conf: \\[aliases\\] "x"`) });
  rmSync(path.join(dir, 'registries.conf.d', '50-bad.conf'));
  rmSync(file);
  t.is(RegistriesConf.load(file).alias('a')?.target, 'second.example/a');
});
