import test from 'ava';
import { aliasCandidate, formatReference, isShortName, parseReference, shortNameCandidates, shortNameRepo } from '../../src/image/reference.js';

const norm = (s: string) => formatReference(parseReference(s));

test('short names normalise to docker.io/library with :latest', (t) => {
  t.is(norm('busybox'), 'docker.io/library/busybox:latest');
  t.is(norm('library/busybox:1.36'), 'docker.io/library/busybox:1.36');
  t.is(norm('index.docker.io/foo/bar'), 'docker.io/foo/bar:latest');
  t.is(norm('quay.io/org/app'), 'quay.io/org/app:latest');
});

test('hosts with ports, localhost, tags and digests', (t) => {
  const d = `sha256:${'a'.repeat(64)}`;
  t.deepEqual(parseReference('127.0.0.1:5100/busybox:v2s2'), { registry: '127.0.0.1:5100', repository: 'busybox', tag: 'v2s2' });
  t.deepEqual(parseReference('localhost/x/y'), { registry: 'localhost', repository: 'x/y', tag: 'latest' });
  t.deepEqual(parseReference(`registry.k8s.io/pause@${d}`), { registry: 'registry.k8s.io', repository: 'pause', digest: d });
  t.is(norm(`a.io/b:c@${d}`), `a.io/b:c@${d}`);
});

test('malformed references are refused with InvalidArgument', (t) => {
  for (const bad of ['', 'UPPER/Case', 'a//b', 'busybox:', 'busybox@sha256:123', 'a/b:' + 'x'.repeat(200), 'a/../b']) {
    const e = t.throws(() => parseReference(bad), undefined, bad);
    t.is((e as { kind?: string }).kind, 'InvalidArgument', bad);
  }
});

test('short names and their search candidates', (t) => {
  for (const s of ['busybox', 'busybox:1.36', 'library/busybox', 'team/app@sha256:' + 'a'.repeat(64)]) t.true(isShortName(s), s);
  for (const s of ['127.0.0.1:5100/busybox', 'localhost/app', 'quay.io/a/b', 'docker.io/library/busybox', 'reg:5000/x']) t.false(isShortName(s), s);
  t.deepEqual(
    shortNameCandidates('busybox:1.36', ['quay.io', 'docker.io', '127.0.0.1:5100']).map(formatReference),
    ['quay.io/busybox:1.36', 'docker.io/library/busybox:1.36', '127.0.0.1:5100/busybox:1.36'],
  );
});

test('an alias keeps the short name tag or digest; its key is the name without them', (t) => {
  const d = `sha256:${'b'.repeat(64)}`;
  t.is(shortNameRepo('busybox'), 'busybox');
  t.is(shortNameRepo('library/busybox:1.36'), 'library/busybox');
  t.is(shortNameRepo(`busybox:1.36@${d}`), 'busybox');
  t.is(formatReference(aliasCandidate('bb', '127.0.0.1:5100/busybox')), '127.0.0.1:5100/busybox:latest');
  t.is(formatReference(aliasCandidate('bb:v2s2', '127.0.0.1:5100/busybox')), '127.0.0.1:5100/busybox:v2s2');
  t.is(formatReference(aliasCandidate(`bb@${d}`, 'quay.io/a/b')), `quay.io/a/b@${d}`);
});
