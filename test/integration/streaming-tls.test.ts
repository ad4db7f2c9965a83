// The streaming server over HTTPS (stream_tls_cert/stream_tls_key): crictl verifies it
// against the CA it is given, over both transports.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busybox, type Instance, startInstance } from '../helpers/instance.js';

const crictlBin = [process.env.CRICTL, '/var/cache/berth/cri-tools-v1.37.0/crictl', '/usr/local/bin/crictl'].find((p) => p && existsSync(p));
const certDir = mkdtempSync(path.join(os.tmpdir(), 'berth-tls-'));
const cert = path.join(certDir, 'cert.pem');
const key = path.join(certDir, 'key.pem');
const other = path.join(certDir, 'other.pem');
let inst: Instance;
let podId = '';
let ctr = '';

function crictl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(crictlBin!, ['--runtime-endpoint', `unix://${inst.socket}`, '--timeout', '60s', ...args], { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdin.end();
    p.on('close', (code) => resolve({ code: code ?? 1, stdout: out, stderr: err }));
  });
}

test.before(async () => {
  // A self-signed certificate for localhost (crictl's default TLS server name) and 127.0.0.1.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(certDir, 'other-key.pem'), '-out', other,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  inst = await startInstance({ toml: `stream_tls_cert = "${cert}"\nstream_tls_key = "${key}"` });
  await inst.img.pullImage({ image: { image: busybox } });
  const podCfg = { metadata: { name: 'tls-pod', namespace: 'default', uid: 'tls-uid' }, logDirectory: inst.logDir };
  ({ podSandboxId: podId } = await inst.rt.runPodSandbox({ config: podCfg }));
  ({ containerId: ctr } = await inst.rt.createContainer({
    podSandboxId: podId, sandboxConfig: podCfg, config: { metadata: { name: 'c' }, image: { image: busybox }, command: ['sleep', '100000'], logPath: 'c.log' },
  }));
  await inst.rt.startContainer({ containerId: ctr });
});

test.after.always(async () => {
  if (podId) await inst.rt.removePodSandbox({ podSandboxId: podId }).catch(() => undefined);
  await inst?.cleanup();
  rmSync(certDir, { recursive: true, force: true });
});

test.serial('URLs are https; crictl exec verifies the certificate over SPDY and WebSocket', async (t) => {
  if (!crictlBin) return t.fail('crictl is not installed');
  t.regex((await inst.rt.exec({ containerId: ctr, cmd: ['true'], stdout: true })).url, /^https:\/\/127\.0\.0\.1:\d+\/exec\//);
  for (const tr of ['spdy', 'websocket']) {
    // crictl insists on a client certificate too; berthd asks for none, any will do.
    const r = await crictl(['exec', '-r', tr, '--tls-ca', cert, '--tls-cert', cert, '--tls-key', key, ctr, 'echo', `over-tls-${tr}`]);
    t.is(r.stdout, `over-tls-${tr}\n`, r.stderr);
  }
  // With another CA the client refuses the server (and berthd carries on).
  const untrusted = await crictl(['exec', '--tls-ca', other, '--tls-cert', cert, '--tls-key', key, ctr, 'true']);
  t.not(untrusted.code, 0);
  t.regex(untrusted.stderr, /certificate/);
});
