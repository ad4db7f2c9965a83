import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certsDirTls } from '../../src/registry/certs-d.js';

/** A certs.d dir with `files` under <host>/ (name → text). */
function certsD(t: { teardown: (f: () => void) => void }, host: string, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-certsd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, host));
  for (const [n, text] of Object.entries(files)) writeFileSync(path.join(dir, host, n), text);
  return dir;
}

test('*.crt are CAs; <name>.cert + <name>.key are client pairs, sorted by name; other files are ignored', (t) => {
  const dir = certsD(t, 'reg:5000', { 'ca.crt': 'CA', 'b.cert': 'B', 'b.key': 'BK', 'a.cert': 'A', 'a.key': 'AK', 'README': 'x' });
  const tls = certsDirTls('reg:5000', ['/nonexistent', dir]);
  t.deepEqual(tls.caPem, ['CA']);
  t.deepEqual(
    tls.clientCerts.map((c) => [c.certPem, c.keyPem, c.source]),
    [
      ['A', 'AK', path.join(dir, 'reg:5000', 'a.cert')],
      ['B', 'BK', path.join(dir, 'reg:5000', 'b.cert')],
    ],
  );
  t.deepEqual(certsDirTls('other:5000', [dir]), { caPem: [], clientCerts: [] });
});

test('half a pair is FAILED_PRECONDITION naming the file (a CA is .crt, not .cert)', (t) => {
  const orphanCert = certsD(t, 'reg', { 'client.cert': 'C' });
  const e1 = t.throws(() => certsDirTls('reg', [orphanCert]));
  t.is((e1 as { kind?: string }).kind, 'FailedPrecondition');
  t.regex(e1!.message, new RegExp(`${path.join(orphanCert, 'reg', 'client.cert')} has no key client\\.key.*\\.crt`));
  const orphanKey = certsD(t, 'reg', { 'client.key': 'K' });
  const e2 = t.throws(() => certsDirTls('reg', [orphanKey]));
  t.regex(e2!.message, new RegExp(`key ${path.join(orphanKey, 'reg', 'client.key')} has no client certificate client\\.cert`));
  t.false(e2!.message.includes('K\n'));
});

test('a host that would climb out of the certs dir reads nothing', (t) => {
  const dir = certsD(t, 'reg', { 'ca.crt': 'CA' });
  for (const host of ['', '../reg', '..', 'a/b']) t.deepEqual(certsDirTls(host, [path.join(dir, 'reg')]), { caPem: [], clientCerts: [] }, host);
});
