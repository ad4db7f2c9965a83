import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfSource, parseConfList } from '../../src/cni/conf.js';

const list = { cniVersion: '1.0.0', name: 'net1', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] };

test('a .conflist parses; a .conf is a list of one', (t) => {
  const l = parseConfList(JSON.stringify(list), '/x/10-a.conflist');
  t.is(l.name, 'net1');
  t.is(l.plugins.length, 2);
  const one = parseConfList(JSON.stringify({ cniVersion: '0.3.1', name: 'one', type: 'bridge', bridge: 'b0' }), '/x/10-a.conf');
  t.is(one.cniVersion, '0.3.1');
  t.deepEqual(one.plugins.map((p) => p.type), ['bridge']);
  t.is(one.plugins[0]!.bridge, 'b0');
});

test('malformed configs are refused with the reason', (t) => {
  t.throws(() => parseConfList('{', 'a.conflist'), { message: /not valid JSON/ });
  t.throws(() => parseConfList(JSON.stringify({ ...list, plugins: [] }), 'a.conflist'), { message: /non-empty "plugins"/ });
  t.throws(() => parseConfList(JSON.stringify({ ...list, plugins: [{}] }), 'a.conflist'), { message: /plugin 0 has no "type"/ });
  t.throws(() => parseConfList(JSON.stringify({ ...list, name: '../x' }), 'a.conflist'), { message: /network name/ });
  t.throws(() => parseConfList(JSON.stringify({ ...list, cniVersion: undefined }), 'a.conflist'), { message: /cniVersion/ });
  t.throws(() => parseConfList(JSON.stringify({ ...list, cniVersion: '9.9.9' }), 'a.conflist'), { message: /9\.9\.9 is not one berth speaks/ });
});

test('discovery: the lexically first file, re-read when it changes or a new one appears', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cniconf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = new ConfSource(path.join(dir, 'net.d'));
  t.regex(src.current().error!, /no CNI config directory/);
  const netd = path.join(dir, 'net.d');
  mkdirSync(netd);
  t.regex(src.current().error!, /no network config found/);
  writeFileSync(path.join(netd, 'README'), 'not a config');
  writeFileSync(path.join(netd, '20-b.conflist'), JSON.stringify({ ...list, name: 'b' }));
  t.is(src.current().conf?.name, 'b');
  writeFileSync(path.join(netd, '10-a.conf'), '{"cniVersion": "1.0.0", "name": "a", "type": "ptp"');
  t.regex(src.current().error!, /10-a\.conf: not valid JSON/, 'a malformed first file is the error, not skipped');
  writeFileSync(path.join(netd, '10-a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: 'ptp' }));
  t.is(src.current().conf?.name, 'a');
});
