// Exec, attach and port-forward through berthd's streaming server, driven by the real
// crictl (v1.37.0) over both of its transports (SPDY and WebSocket), plus what a hostile
// or broken client can do to the server.
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { WebSocket } from 'ws';
import { controlFrame, encodeHeaderBlock, FrameType, HEADER_DICTIONARY } from '../../src/stream/spdy-frames.js';
import { busybox, type Instance, startInstance } from '../helpers/instance.js';

const crictlBin = [process.env.CRICTL, '/var/cache/berth/cri-tools-v1.37.0/crictl', '/usr/local/bin/crictl'].find((p) => p && existsSync(p));
const transports = ['spdy', 'websocket'] as const;

let inst: Instance;
let podId = '';
let sleeper = '';
let web = '';
let bigSha = '';

const podCfg = () => ({ metadata: { name: 'stream-pod', namespace: 'default', uid: 'stream-uid' }, logDirectory: inst.logDir });

async function container(name: string, command: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const { containerId } = await inst.rt.createContainer({
    podSandboxId: podId, sandboxConfig: podCfg(),
    config: { metadata: { name }, image: { image: busybox }, command, logPath: `${name}.log`, ...extra },
  });
  await inst.rt.startContainer({ containerId });
  return containerId;
}

function crictlArgs(args: string[]): string[] {
  return ['--runtime-endpoint', `unix://${inst.socket}`, '--image-endpoint', `unix://${inst.socket}`, '--timeout', '60s', ...args];
}

function crictl(args: string[], input?: Buffer | string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(crictlBin!, crictlArgs(args), { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdin.on('error', () => undefined);
    p.stdin.end(input ?? '');
    p.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }));
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function httpGet(port: number, file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: file, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
  ({ podSandboxId: podId } = await inst.rt.runPodSandbox({ config: podCfg() }));
  sleeper = await container('sleeper', ['sleep', '100000']);
  web = await container('web', ['sh', '-c', 'mkdir -p /www && echo hi > /www/index.html && dd if=/dev/urandom of=/www/big bs=1M count=100 2>/dev/null && touch /www/ready && exec httpd -f -p 8080 -h /www']);
  for (let i = 0; i < 300; i++) {
    const r = await inst.rt.execSync({ containerId: web, cmd: ['sh', '-c', 'test -f /www/ready && sha256sum /www/big'], timeout: 30n });
    if (r.exitCode === 0) {
      bigSha = r.stdout.toString().split(' ')[0]!;
      break;
    }
    await sleep(100);
  }
});

test.after.always(async () => {
  if (podId) {
    await inst.rt.stopPodSandbox({ podSandboxId: podId }).catch(() => undefined);
    await inst.rt.removePodSandbox({ podSandboxId: podId }).catch(() => undefined);
  }
  await inst?.cleanup();
});

for (const tr of transports) {
  test.serial(`exec over ${tr}: stdout, stderr and the exit code`, async (t) => {
    if (!crictlBin) return t.fail('crictl is not installed');
    const r = await crictl(['exec', '-r', tr, sleeper, 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    t.is(r.stdout.toString(), 'out\n');
    t.regex(r.stderr, /err\n[\s\S]*command terminated with exit code 7/);
    t.is(r.code, 1); // crictl's own exit code for any failed exec; the command's is in its message
    const ok = await crictl(['exec', '-r', tr, sleeper, 'true']);
    t.is(ok.code, 0, ok.stderr);
  });

  test.serial(`exec -i over ${tr}: stdin reaches the process and its EOF ends it`, async (t) => {
    const input = Buffer.alloc(5 << 20, 'x');
    const r = await crictl(['exec', '-i', '-r', tr, sleeper, 'sh', '-c', 'wc -c'], input);
    t.is(r.stdout.toString().trim(), String(input.length), r.stderr);
  });

  test.serial(`exec -it over ${tr}: a pty, input and the window size (under script(1) as the terminal)`, async (t) => {
    const cmd = `stty cols 101 rows 31; ${crictlBin} ${crictlArgs(['exec', '-it', '-r', tr, sleeper, 'sh', '-c', "'sleep 1; read x; stty size; tty; echo got:$x'"]).join(' ')}`;
    const out = await new Promise<string>((resolve) => {
      const p = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
      let s = '';
      p.stdout.on('data', (d: Buffer) => (s += d.toString()));
      // The size may arrive just after the process started; busybox's `read` gives up on the
      // SIGWINCH that comes with it, so the command sleeps first and the input comes later.
      setTimeout(() => p.stdin.write('hello\n'), 2000);
      p.on('close', () => resolve(s));
    });
    t.regex(out, /31 101/);
    t.regex(out, /\/dev\/pts\/\d+/);
    t.regex(out, /got:hello/);
  });

  test.serial(`exec over ${tr}: 100 MB of stdout arrives intact, berthd's memory stays bounded`, async (t) => {
    const before = rssKb(inst.proc.pid!);
    const r = await crictl(['exec', '-r', tr, web, 'cat', '/www/big']);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.length, 100 << 20);
    t.is(sha256(r.stdout), bigSha);
    t.true(rssKb(inst.proc.pid!) - before < 96 * 1024, `berthd grew from ${before} kB to ${rssKb(inst.proc.pid!)} kB`);
  });

  test.serial(`port-forward over ${tr}: a page and 100 MB through the pod's network namespace`, async (t) => {
    const port = await freePort();
    const pf: ChildProcess = spawn(crictlBin!, crictlArgs(['port-forward', '-r', tr, podId, `${port}:8080`]), { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
    try {
      let up = false;
      pf.stdout!.on('data', (d: Buffer) => (up ||= d.toString().includes('Forwarding')));
      for (let i = 0; i < 100 && !up; i++) await sleep(100);
      t.true(up, 'crictl port-forward did not start');
      t.is((await httpGet(port, '/index.html')).toString(), 'hi\n');
      const before = rssKb(inst.proc.pid!);
      const big = await httpGet(port, '/big');
      t.is(big.length, 100 << 20);
      t.is(sha256(big), bigSha);
      t.true(rssKb(inst.proc.pid!) - before < 96 * 1024, 'berthd memory grew with the transfer');
    } finally {
      pf.kill('SIGINT');
    }
  });

  test.serial(`attach over ${tr}: input in, output out, detaching leaves the container running`, async (t) => {
    const id = await container(`attached-${tr}`, ['sh'], { stdin: true });
    const p = spawn(crictlBin!, crictlArgs(['attach', '-i', '-r', tr, id]), { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await sleep(1000);
    p.stdin.write('echo hello-from-attach\n');
    for (let i = 0; i < 100 && !out.includes('hello-from-attach'); i++) await sleep(100);
    t.is(out, 'hello-from-attach\n');
    p.kill('SIGKILL');
    await sleep(500);
    const s = await inst.rt.containerStatus({ containerId: id });
    t.is(s.status!.state, 1 /* CONTAINER_RUNNING */);
    // The output went to the log as well.
    t.regex(readFileSync(s.status!.logPath, 'utf8'), /stdout F hello-from-attach/);
  });
}

test.serial('port-forward in the kubelet\'s WebSocket protocol (v4.channel.k8s.io, ports in the query)', async (t) => {
  const { url } = await inst.rt.portForward({ podSandboxId: podId });
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}?port=8080`, ['v4.channel.k8s.io']);
  const byChannel = new Map<number, Buffer[]>();
  ws.on('message', (m: Buffer) => byChannel.set(m[0]!, [...(byChannel.get(m[0]!) ?? []), m.subarray(1)]));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  t.is(ws.protocol, 'v4.channel.k8s.io');
  ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET /index.html HTTP/1.0\r\n\r\n')]));
  await new Promise((resolve) => ws.once('close', resolve));
  const data = Buffer.concat(byChannel.get(0) ?? []);
  t.is(data.readUInt16LE(0), 8080, 'each channel opens with its port');
  t.is(Buffer.concat(byChannel.get(1) ?? []).readUInt16LE(0), 8080);
  t.regex(data.subarray(2).toString(), /^HTTP\/1\.[01] 200[\s\S]*\r\n\r\nhi\n$/);
  // A port the pod does not listen on: the error channel says so.
  const { url: url2 } = await inst.rt.portForward({ podSandboxId: podId });
  const ws2 = new WebSocket(`${url2.replace(/^http/, 'ws')}?port=9`, ['v4.channel.k8s.io']);
  let errText = '';
  ws2.on('message', (m: Buffer) => m[0] === 1 && (errText += m.subarray(1).toString('latin1')));
  await new Promise((resolve) => ws2.once('close', resolve));
  t.regex(errText, /error forwarding port 9 into the pod: failed to connect to localhost:9/);
});

test.serial('concurrent sessions on one container', async (t) => {
  const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => crictl(['exec', '-r', transports[i % 2]!, sleeper, 'sh', '-c', `echo session-${i}`])));
  rs.forEach((r, i) => t.is(r.stdout.toString(), `session-${i}\n`, r.stderr));
});

test.serial('a client that goes away mid-stream: the exec process is ended, berthd carries on', async (t) => {
  const p = spawn(crictlBin!, crictlArgs(['exec', sleeper, 'sh', '-c', 'echo started; exec sleep 4242']), { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
  await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()));
  p.kill('SIGKILL');
  let left = true;
  for (let i = 0; i < 50 && left; i++) {
    await sleep(100);
    left = (await inst.rt.execSync({ containerId: sleeper, cmd: ['ps'], timeout: 10n })).stdout.toString().includes('sleep 4242');
  }
  t.false(left, 'the exec process outlived its client');
  t.is((await crictl(['exec', sleeper, 'echo', 'still-here'])).stdout.toString(), 'still-here\n');
});

test.serial('bad requests get the right gRPC codes', async (t) => {
  await t.throwsAsync(inst.rt.exec({ containerId: sleeper, cmd: ['sh'], tty: true, stderr: true, stdout: true }), { message: /INVALID_ARGUMENT.*tty and stderr/ });
  await t.throwsAsync(inst.rt.exec({ containerId: sleeper, cmd: ['sh'] }), { message: /INVALID_ARGUMENT.*one of stdin, stdout or stderr/ });
  await t.throwsAsync(inst.rt.exec({ containerId: sleeper, cmd: [], stdout: true }), { message: /INVALID_ARGUMENT/ });
  await t.throwsAsync(inst.rt.exec({ containerId: 'nope', cmd: ['true'], stdout: true }), { message: /NOT_FOUND/ });
  await t.throwsAsync(inst.rt.attach({ containerId: 'nope', stdout: true }), { message: /NOT_FOUND/ });
  await t.throwsAsync(inst.rt.portForward({ podSandboxId: 'nope' }), { message: /NOT_FOUND/ });
  await t.throwsAsync(inst.rt.portForward({ podSandboxId: podId, port: [70000] }), { message: /INVALID_ARGUMENT/ });
  const stopped = await container('stopped', ['true']);
  for (let i = 0; i < 50 && (await inst.rt.containerStatus({ containerId: stopped })).status!.state !== 2; i++) await sleep(100);
  await t.throwsAsync(inst.rt.exec({ containerId: stopped, cmd: ['true'], stdout: true }), { message: /FAILED_PRECONDITION.*not running/ });
});

/** Sends raw bytes to the streaming server and returns all it answers until it closes. */
function raw(url: string, request: (path: string) => string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(request(u.pathname)));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
    setTimeout(() => s.destroy(), 5000);
  });
}

const upgrade = (path: string, proto = 'v4.channel.k8s.io') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${proto}\r\nContent-Length: 0\r\n\r\n`;

test.serial('tokens: unknown → 404 and the connection closes (a pipelined request is not read); used → 404', async (t) => {
  const { url } = await inst.rt.exec({ containerId: sleeper, cmd: ['true'], stdout: true });
  const bogus = url.replace(/[^/]+$/, 'A'.repeat(43));
  const answer = await raw(bogus, (p) => upgrade(p) + upgrade(url.slice(url.indexOf('/exec'))));
  t.regex(answer, /^HTTP\/1\.1 404 /);
  t.is(answer.match(/HTTP\/1\.1/g)!.length, 1, 'the pipelined second request was not answered');
  // The real token survived the bogus attempt; an unknown protocol uses it up (403) and then it is gone.
  t.regex(await raw(url, (p) => upgrade(p, 'v9.channel.k8s.io')), /^HTTP\/1\.1 403 [\s\S]*unable to negotiate protocol/);
  t.regex(await raw(url, (p) => upgrade(p)), /^HTTP\/1\.1 404 /);
});

test.serial('malformed requests: no upgrade, no protocol header, garbage, oversized frames', async (t) => {
  const get = async () => (await inst.rt.exec({ containerId: sleeper, cmd: ['true'], stdout: true })).url;
  let url = await get();
  t.regex(await raw(url, (p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 400 [\s\S]*must upgrade/);
  url = await get();
  t.regex(await raw(url, (p) => `POST ${p} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n`), /^HTTP\/1\.1 400 [\s\S]*X-Stream-Protocol-Version/);
  t.regex(await raw(url, () => 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400 /);
  url = await get();
  // A frame announcing 16 MiB: the server says GOAWAY and hangs up rather than buffering it.
  const answer = await raw(url, (p) => upgrade(p) + Buffer.from([0x80, 3, 0, 1, 0, 0xff, 0xff, 0xff]).toString('latin1'));
  t.regex(answer, /^HTTP\/1\.1 101 /);
  t.is((await crictl(['exec', sleeper, 'echo', 'alive'])).stdout.toString(), 'alive\n');
});

test.serial('attach -it to a tty container after a berthd restart: the monitor kept the pty; resize applies', async (t) => {
  const id = await container('tty', ['sh'], { tty: true, stdin: true });
  await inst.restart();
  for (const tr of transports) {
    const cmd = `stty cols 90 rows 20; ${crictlBin} ${crictlArgs(['attach', '-it', '-r', tr, id]).join(' ')}`;
    const out = await new Promise<string>((resolve) => {
      const p = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
      let s = '';
      p.stdout.on('data', (d: Buffer) => (s += d.toString()));
      setTimeout(() => p.stdin.write(`echo $((6*7))-${tr}; stty size\n`), 1500);
      setTimeout(() => p.kill('SIGKILL'), 4000);
      p.on('close', () => resolve(s));
    });
    t.regex(out, new RegExp(`42-${tr}`));
    t.regex(out, /20 90/);
  }
  t.is((await inst.rt.containerStatus({ containerId: id })).status!.state, 1 /* still running after the detaches */);
});

test.serial('a SPDY client that never reads: output waits in bounded buffers, and hanging up ends the process', async (t) => {
  const { url } = await inst.rt.exec({ containerId: sleeper, cmd: ['sh', '-c', 'exec cat /dev/zero'], stdout: true });
  const u = new URL(url);
  const sock = net.connect(Number(u.port), u.hostname);
  await new Promise((r) => sock.once('connect', r));
  sock.write(upgrade(u.pathname));
  await new Promise((r) => sock.once('data', r)); // 101, then we stop reading
  sock.pause();
  const deflate = zlib.createDeflate({ dictionary: HEADER_DICTIONARY });
  const compress = (b: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const out: Buffer[] = [];
      const on = (c: Buffer) => out.push(c);
      deflate.on('data', on);
      deflate.write(b);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => setImmediate(() => (deflate.off('data', on), resolve(Buffer.concat(out)))));
    });
  for (const [id, type] of [[1, 'error'], [3, 'stdout']] as const) {
    const head = Buffer.alloc(10);
    head.writeUInt32BE(id, 0);
    sock.write(controlFrame(FrameType.SynStream, 0, Buffer.concat([head, await compress(encodeHeaderBlock({ streamtype: type }))])));
  }
  await sleep(1000);
  const before = rssKb(inst.proc.pid!);
  await sleep(3000);
  t.true(rssKb(inst.proc.pid!) - before < 32 * 1024, 'berthd buffers what the client does not read');
  const running = (await inst.rt.execSync({ containerId: sleeper, cmd: ['ps'], timeout: 10n })).stdout.toString();
  t.regex(running, /cat \/dev\/zero/);
  sock.destroy();
  let left = true;
  for (let i = 0; i < 50 && left; i++) {
    await sleep(100);
    left = (await inst.rt.execSync({ containerId: sleeper, cmd: ['ps'], timeout: 10n })).stdout.toString().includes('cat /dev/zero');
  }
  t.false(left, 'the process outlived the connection');
});
