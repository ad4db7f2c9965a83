import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromAuthFile, fromCri, parseChallenge } from '../../src/registry/auth.js';

test('WWW-Authenticate challenges: Bearer with quoted params, Basic', (t) => {
  t.deepEqual(parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull' },
  });
  t.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  t.is(parseChallenge(null), undefined);
});

test('CRI AuthConfig: username/password, auth, tokens; empty means none', (t) => {
  t.deepEqual(fromCri({ username: 'u', password: 'p' }), { username: 'u', password: 'p', server: undefined });
  t.deepEqual(fromCri({ auth: Buffer.from('u:p:x').toString('base64'), serverAddress: 'https://index.docker.io/v1/' }), { username: 'u', password: 'p:x', server: 'docker.io' });
  t.deepEqual(fromCri({ identityToken: 'idt' }), { identityToken: 'idt', server: undefined });
  t.deepEqual(fromCri({ registryToken: 'rt', serverAddress: 'reg:5000' }), { registryToken: 'rt', server: 'reg:5000' });
  t.is(fromCri({}), undefined);
  t.is(fromCri(undefined), undefined);
});

test('auth files: the most specific key wins; Docker Hub legacy key; missing files are skipped', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-authfile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = (s: string) => Buffer.from(s).toString('base64');
  const file = path.join(dir, 'auth.json');
  writeFileSync(
    file,
    JSON.stringify({
      auths: {
        'reg:5000': { auth: b('host:h') },
        'reg:5000/team': { auth: b('team:t') },
        'https://index.docker.io/v1/': { auth: b('hub:x'), identitytoken: 'tok' },
      },
    }),
  );
  const files = [path.join(dir, 'missing.json'), file];
  t.deepEqual(fromAuthFile('reg:5000', 'team/app', files), { username: 'team', password: 't' });
  t.deepEqual(fromAuthFile('reg:5000', 'other/app', files), { username: 'host', password: 'h' });
  t.deepEqual(fromAuthFile('docker.io', 'library/busybox', files), { username: 'hub', password: 'x', identityToken: 'tok' });
  t.is(fromAuthFile('elsewhere:1', 'a', files), undefined);
});
