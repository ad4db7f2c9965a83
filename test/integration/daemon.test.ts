// berthd's own life: the socket (mode, a live holder, a stale file) and clean stops.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Instance, podConfig, spawnBerthd, startInstance, waitForSocket, cgroupRootLeft } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
});
test.after.always(async () => {
  await inst?.cleanup();
});

function waitForLog(p: ReturnType<typeof spawnBerthd>, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const on = (d: Buffer) => {
      seen += d.toString();
      if (re.test(seen)) {
        p.stderr!.off('data', on);
        resolve();
      }
    };
    p.stderr!.on('data', on);
    p.once('exit', (code) => reject(new Error(`berthd exited (${code}) before logging ${re}: ${seen}`)));
  });
}

const exitOf = (p: ReturnType<typeof spawnBerthd>) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('exit', (code) => resolve({ code, stderr }));
  });

test.serial('the socket is created 0600 and the runtime says it is ready', async (t) => {
  t.is(statSync(inst.socket).mode & 0o777, 0o600);
  const s = await inst.rt.status({});
  t.true(s.status!.conditions.find((c) => c.type === 'RuntimeReady')!.status);
  t.true(s.status!.conditions.find((c) => c.type === 'NetworkReady')!.status);
});

test.serial('a second berthd on a socket held by a live berthd refuses to start', async (t) => {
  const p = spawnBerthd(['--socket', inst.socket, '--root', path.join(inst.dir, 'root2'), '--runtime-dir', path.join(inst.dir, 'run2')]);
  const { code, stderr } = await exitOf(p);
  t.is(code, 1);
  t.regex(stderr, /held by a live berthd/);
  t.true(existsSync(inst.socket));
  t.is((await inst.rt.version({})).runtimeName, 'berth');
});

test.serial('a stale socket file is removed; SIGTERM stops berthd cleanly', async (t) => {
  const sock = path.join(inst.dir, 'stale.sock');
  // A unix socket whose server is gone: bind, then exit without unlinking.
  execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)})`]);
  t.true(existsSync(sock));
  const p = spawnBerthd([
    '--socket', sock, '--root', path.join(inst.dir, 'root3'), '--runtime-dir', path.join(inst.dir, 'run3'),
    '--cni-conf-dir', path.join(inst.dir, 'none'), '--cgroup-root', `${inst.cgroupRoot}-3`,
  ]);
  const done = exitOf(p);
  await waitForLog(p, /berthd serving CRI/);
  p.kill('SIGTERM');
  const { code, stderr } = await done;
  t.is(code, 0);
  t.regex(stderr, /removing stale socket/);
  t.regex(stderr, /berthd stopped/);
  t.false(existsSync(sock));
});

test.serial('without a CNI config the network is not ready and says why', async (t) => {
  const sock = path.join(inst.dir, 'nonet.sock');
  const p = spawnBerthd([
    '--socket', sock, '--root', path.join(inst.dir, 'root4'), '--runtime-dir', path.join(inst.dir, 'run4'),
    '--cni-conf-dir', path.join(inst.dir, 'empty-net.d'), '--cgroup-root', `${inst.cgroupRoot}-4`,
  ]);
  const done = exitOf(p);
  await waitForSocket(sock, p);
  const { clients } = await import('../helpers/cri-client.js');
  const c = clients(sock);
  const s = await c.rt.status({});
  const net = s.status!.conditions.find((x) => x.type === 'NetworkReady')!;
  t.false(net.status);
  t.regex(net.message, /empty-net\.d/);
  c.rt.close();
  c.img.close();
  p.kill('SIGTERM');
  t.is((await done).code, 0);
});

test.serial('SIGHUP reloads the log level and runtime handlers from berth.d drop-ins; a bad drop-in changes nothing', async (t) => {
  const dropIns = path.join(inst.dir, 'berth.d');
  mkdirSync(dropIns, { recursive: true });
  // The node conformance suite's PodOverhead spec runs pods with a RuntimeClass handler named test-handler.
  writeFileSync(path.join(dropIns, '50-test-handler.toml'), 'log_level = "info"\n[runtimes.test-handler]\npath = "runc"\n');
  inst.proc.kill('SIGHUP');
  const log = await inst.waitForLog(/"msg":"configuration reloaded"/, 20_000);
  t.regex(log, /"changed":\["log_level","runtimes\.test-handler"\]/);
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('handler'), runtimeHandler: 'test-handler' });
  t.is((await inst.rt.podSandboxStatus({ podSandboxId })).status?.runtimeHandler, 'test-handler');
  await inst.rt.removePodSandbox({ podSandboxId });
  writeFileSync(path.join(dropIns, '60-bad.toml'), 'log_levle = "debug"\n');
  inst.proc.kill('SIGHUP');
  t.regex(await inst.waitForLog(/configuration not reloaded/, 20_000), /60-bad\.toml: key log_levle: unknown key/);
  t.truthy(await inst.rt.version({}));
  rmSync(dropIns, { recursive: true, force: true });
  t.deepEqual(inst.leaks(), []);
});

test.serial('systemd notify protocol: READY=1 once serving, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM', async (t) => {
  // A real AF_UNIX datagram socket, as systemd's (Node's dgram has none: python3 holds it).
  const sock = path.join(inst.dir, 'notify.sock');
  const rx = spawn('python3', ['-u', '-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(sock)})`,
    'print("bound", flush=True)',
    'while True:',
    '    m = s.recv(4096).decode()',
    '    print(m.replace("\\n", " "), flush=True)',
    '    if "STOPPING=1" in m: break',
  ].join('\n')]);
  let got = '';
  rx.stdout.on('data', (d: Buffer) => (got += d.toString()));
  const seen = async (re: RegExp) => {
    for (let i = 0; i < 400 && !re.test(got); i++) await new Promise((r) => setTimeout(r, 25));
    return got;
  };
  try {
    await seen(/bound/);
    const other = await startInstance({ env: { NOTIFY_SOCKET: sock } });
    try {
      t.regex(await seen(/READY=1/), new RegExp(`READY=1 MAINPID=${other.proc.pid}`));
      other.proc.kill('SIGHUP');
      t.regex(await seen(/RELOADING=1\nREADY=1\n/), /RELOADING=1\nREADY=1\n/);
    } finally {
      await other.cleanup();
    }
    t.regex(await seen(/STOPPING=1/), /STOPPING=1/);
  } finally {
    rx.kill();
  }
});

test.serial('after SIGTERM with no pods left, the cgroup root is gone', async (t) => {
  t.is(await inst.stop(), 0);
  t.deepEqual(cgroupRootLeft(inst), []);
  t.deepEqual(inst.leaks(), []);
});

test.serial('--version prints the version; an unknown flag exits 1 with the usage', async (t) => {
  const v = spawnBerthd(['--version']);
  let out = '';
  v.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  t.is((await exitOf(v)).code, 0);
  const bad = await exitOf(spawnBerthd(['--bogus', 'x']));
  t.is(bad.code, 1);
  t.regex(bad.stderr, /unknown flag --bogus[\s\S]*usage: berthd/);
  t.regex(out, /^berthd \d+\.\d+\.\d+/);
});
