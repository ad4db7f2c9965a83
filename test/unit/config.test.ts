import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';

test('embedded defaults', (t) => {
  const c = loadConfig(['--config', '/dev/null']);
  t.is(c.socket, '/run/berth/berth.sock');
  t.is(c.root, '/var/lib/berth');
  t.deepEqual(c.cniPluginDirs, ['/opt/cni/bin', '/usr/lib/cni']);
  t.is(c.defaultRuntime, 'runc');
});

test('config file < flags; snake_case keys; runtime handler tables', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'berth.toml');
  writeFileSync(f, 'socket = "/x.sock"\nruntime_dir = "/rd"\n[runtimes.runc]\npath = "/usr/sbin/runc"\n');
  const c = loadConfig(['--config', f, '--socket=/y.sock', '--cni-plugin-dir', '/a:/b']);
  t.is(c.socket, '/y.sock');
  t.is(c.runtimeDir, '/rd');
  t.deepEqual(c.cniPluginDirs, ['/a', '/b']);
  t.is(c.runtimes.runc!.path, '/usr/sbin/runc');
});

test('unknown flags and bad files are refused', (t) => {
  t.throws(() => loadConfig(['--nope', 'x']), { message: /unknown flag --nope/ });
  t.throws(() => loadConfig(['--socket']), { message: /needs a value/ });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'bad.toml'), 'socket = ');
  t.throws(() => loadConfig(['--config', path.join(dir, 'bad.toml')]), { message: /bad\.toml/ });
});

test('streaming server: loopback and any free port by default; port checked; TLS cert and key together', (t) => {
  const c = loadConfig(['--config', '/dev/null']);
  t.is(c.streamAddress, '127.0.0.1');
  t.is(c.streamPort, 0);
  t.is(loadConfig(['--config', '/dev/null', '--stream-port', '10010', '--stream-address', '0.0.0.0']).streamPort, 10010);
  t.throws(() => loadConfig(['--config', '/dev/null', '--stream-port', '70000']), { message: /not a TCP port/ });
  t.throws(() => loadConfig(['--config', '/dev/null', '--stream-port', 'x']), { message: /not a TCP port/ });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'berth.toml');
  writeFileSync(f, 'stream_tls_cert = "/c.pem"\n');
  t.throws(() => loadConfig(['--config', f]), { message: /go together/ });
});
