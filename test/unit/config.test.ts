import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { printConfig } from '../../src/config/print.js';

test('embedded defaults', (t) => {
  const c = loadConfig(['--config', '/dev/null'], {});
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
  const c = loadConfig(['--config', '/dev/null'], {});
  t.is(c.streamAddress, '127.0.0.1');
  t.is(c.streamPort, 0);
  t.is(loadConfig(['--config', '/dev/null', '--stream-port', '10010', '--stream-address', '0.0.0.0'], {}).streamPort, 10010);
  t.throws(() => loadConfig(['--config', '/dev/null', '--stream-port', '70000'], {}), { message: /not a TCP port/ });
  t.throws(() => loadConfig(['--config', '/dev/null', '--stream-port', 'x'], {}), { message: /stream_port expects a non-negative number/ });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'berth.toml');
  writeFileSync(f, 'stream_tls_cert = "/c.pem"\n');
  t.throws(() => loadConfig(['--config', f], {}), { message: /go together/ });
});

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('drop-ins in berth.d merge in lexical order over berth.toml; runtime tables merge per handler', (t) => {
  const dir = tmp(t);
  writeFileSync(path.join(dir, 'berth.toml'), 'log_level = "warn"\nroot = "/r1"\n');
  mkdirSync(path.join(dir, 'berth.d'));
  writeFileSync(path.join(dir, 'berth.d', '20-b.toml'), 'root = "/r3"\n[runtimes.test-handler]\npath = "/usr/sbin/runc"\n');
  writeFileSync(path.join(dir, 'berth.d', '10-a.toml'), 'root = "/r2"\nlog_level = "debug"\n');
  writeFileSync(path.join(dir, 'berth.d', 'notes.txt'), 'not toml = ');
  const c = loadConfig(['--config', path.join(dir, 'berth.toml')], {});
  t.is(c.root, '/r3');
  t.is(c.logLevel, 'debug');
  t.deepEqual(Object.keys(c.runtimes).sort(), ['crun', 'runc', 'test-handler']);
  t.is(c.runtimes['test-handler']!.path, '/usr/sbin/runc');
});

test('flags > environment > files > defaults', (t) => {
  const dir = tmp(t);
  const f = path.join(dir, 'berth.toml');
  writeFileSync(f, 'log_level = "warn"\ncgroup_root = "/from-file"\ncreate_timeout_seconds = 5\n');
  const env = { BERTH_LOG_LEVEL: 'error', BERTH_CGROUP_ROOT: '/from-env', BERTH_CREATE_TIMEOUT_SECONDS: '7', BERTH_CNI_PLUGIN_DIRS: '/x:/y' };
  const c = loadConfig(['--config', f, '--log-level', 'trace'], env);
  t.is(c.logLevel, 'trace');
  t.is(c.cgroupRoot, '/from-env');
  t.is(c.createTimeoutSeconds, 7);
  t.deepEqual(c.cniPluginDirs, ['/x', '/y']);
  t.is(loadConfig(['--config', f], {}).createTimeoutSeconds, 5);
  t.is(loadConfig(['--config', f], { CONTAINERS_REGISTRIES_CONF: '/reg.conf' }).registriesConf, '/reg.conf');
});

test('a validation error names the file, the key and the reason', (t) => {
  const dir = tmp(t);
  const f = path.join(dir, 'berth.toml');
  writeFileSync(f, 'sockett = "/x"\n');
  t.throws(() => loadConfig(['--config', f], {}), { message: new RegExp(`config ${f}: key sockett: unknown key`) });
  writeFileSync(f, 'create_timeout_seconds = "soon"\n');
  t.throws(() => loadConfig(['--config', f], {}), { message: /key create_timeout_seconds: expected a number, got "soon"/ });
  writeFileSync(f, '[runtimes.fast]\nbinary = "/x"\n');
  t.throws(() => loadConfig(['--config', f], {}), { message: /key runtimes\.fast: needs path/ });
  t.throws(() => loadConfig(['--config', '/dev/null'], { BERTH_CREATE_TIMEOUT_SECONDS: 'x' }), { message: /environment BERTH_CREATE_TIMEOUT_SECONDS: create_timeout_seconds expects a non-negative number/ });
});

test('berthd config prints TOML that reads back to the same configuration', (t) => {
  const dir = tmp(t);
  const c = loadConfig(['--config', '/dev/null', '--log-level', 'debug'], {});
  const f = path.join(dir, 'printed.toml');
  writeFileSync(f, printConfig(c, 'test'));
  t.deepEqual(loadConfig(['--config', f], {}), c);
  t.regex(printConfig(c, 'test'), /# env BERTH_LOG_LEVEL \(changed from the default\)\nlog_level = "debug"/);
});
