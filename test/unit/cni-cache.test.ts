import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttachmentCache } from '../../src/cni/cache.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cnicache-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('entries are written in libcni\'s format and file name, and read back', async (t) => {
  const c = new AttachmentCache(path.join(dir, 'a'));
  const config = Buffer.from('{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"bridge"}]}').toString('base64');
  await c.write({ kind: 'cniCacheV1', containerId: 'abc', config, ifName: 'eth0', networkName: 'net', cniArgs: [['K8S_POD_NAME', 'p']], capabilityArgs: { portMappings: [] } });
  const raw = JSON.parse(readFileSync(path.join(dir, 'a', 'net-abc-eth0'), 'utf8')) as Record<string, unknown>;
  t.is(raw.kind, 'cniCacheV1');
  t.deepEqual(raw.cniArgs, [['K8S_POD_NAME', 'p']]);
  t.is((await c.read('net', 'abc', 'eth0'))?.config, config);
  t.deepEqual((await c.list()).map((e) => e.containerId), ['abc']);
  await c.remove({ networkName: 'net', containerId: 'abc', ifName: 'eth0' });
  t.deepEqual(await c.list(), []);
});

test('entries of berth before the libcni kind (cni#v1, empty result) are still read; junk and temp files are skipped', async (t) => {
  const d = path.join(dir, 'b');
  const c = new AttachmentCache(d);
  await c.write({ kind: 'cniCacheV1', containerId: 'x', config: 'e30=', ifName: 'eth0', networkName: 'n' });
  writeFileSync(path.join(d, 'n-old-eth0'), JSON.stringify({ kind: 'cni#v1', containerId: 'old', config: 'e30=', ifName: 'eth0', networkName: 'n', result: {} }));
  writeFileSync(path.join(d, 'n-junk-eth0'), 'not json');
  writeFileSync(path.join(d, 'n-y-eth0.1234.tmp'), '{}');
  const old = await c.read('n', 'old', 'eth0');
  t.is(old?.containerId, 'old');
  t.is(old?.result, undefined, 'an empty result means the ADD never finished');
  t.deepEqual((await c.list()).map((e) => e.containerId).sort(), ['old', 'x']);
});
