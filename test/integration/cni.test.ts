// Pod networking with the real CNI plugins of Debian's containernetworking-plugins 1.1.1:
// hostPorts through portmap (on the host's address and on 127.0.0.1), teardown after a
// daemon restart, config discovery, plugin failures and time limits, bridge/ptp/
// bandwidth/dual-stack chains, and nothing of a pod's network left once it is removed.
// CNI 1.1's STATUS and GC are tested against test/fixtures/cni-plugins/berth-test-v11, a
// test-only plugin (the Debian plugins speak CNI up to 1.0.0 and never get those calls).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { busybox, containerConfig, type Instance, natRulesOf, podConfig, repoRoot, startInstance } from '../helpers/instance.js';

let inst: Instance;
const PLUGIN_TIMEOUT_S = 4;
test.before(async () => {
  inst = await startInstance({
    toml: [
      `cni_plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni", "${path.join(repoRoot, 'test', 'fixtures', 'cni-plugins')}"]`,
      `cni_plugin_timeout_seconds = ${PLUGIN_TIMEOUT_S}`,
    ].join('\n'),
  });
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});
// A failed test must not leave its pods to fail the next one's leak check too.
test.afterEach.always(async () => {
  for (const p of (await inst.rt.listPodSandbox({})).items) await inst.rt.removePodSandbox({ podSandboxId: p.id }).catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Host ports in 20000–29999, random, so engineers' tests running side by side do not collide. */
const randomPort = () => 20000 + Math.floor(Math.random() * 10000);

function get(host: string, port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The page, once httpd in the pod answers (it takes a moment to bind). */
async function page(host: string, port: number, ms = 10_000): Promise<{ status: number; body: string }> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await get(host, port);
    } catch (e) {
      if (Date.now() > until) throw new Error(`http://${host}:${port}/ never answered: ${(e as Error).message}`);
      await sleep(200);
    }
  }
}

/** This host's own address (the source of its default route; no packet is sent). */
function hostAddress(): string | undefined {
  try {
    return /\bsrc (\S+)/.exec(execFileSync('ip', ['-4', 'route', 'get', '1.1.1.1'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

/** A pod with a busybox httpd serving `text` on container port 80, mapped to `hostPort`. */
async function httpdPod(name: string, hostPort: number, text: string, extra: Record<string, unknown> = {}) {
  const podCfg = podConfig(name, { portMappings: [{ protocol: 0, containerPort: 80, hostPort }], ...extra });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({
    podSandboxId,
    sandboxConfig: podCfg,
    config: containerConfig('httpd', busybox, ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`]),
  });
  await inst.rt.startContainer({ containerId });
  return { podSandboxId, containerId };
}

test.serial('a hostPort reaches the pod on 127.0.0.1 and on the host address; removal takes its iptables rules', async (t) => {
  const port = randomPort();
  const { podSandboxId } = await httpdPod('web', port, 'hello-from-berth');
  t.true(natRulesOf(inst).some((r) => r.includes(`--dport ${port}`)), 'portmap made the DNAT rules');
  const local = await page('127.0.0.1', port);
  t.is(local.status, 200);
  t.is(local.body.trim(), 'hello-from-berth');
  const addr = hostAddress();
  if (addr) t.is((await page(addr, port)).body.trim(), 'hello-from-berth', `on ${addr}`);
  await inst.rt.stopPodSandbox({ podSandboxId });
  t.deepEqual(natRulesOf(inst), [], 'StopPodSandbox (portmap DEL) removed the rules');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a hostPort bound to host_ip 127.0.0.1 answers there and not on the host address', async (t) => {
  const port = randomPort();
  const podCfg = podConfig('local-only', { portMappings: [{ protocol: 0, containerPort: 80, hostPort: port, hostIp: '127.0.0.1' }] });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({
    podSandboxId, sandboxConfig: podCfg,
    config: containerConfig('httpd', busybox, ['sh', '-c', 'mkdir -p /www && echo only-local > /www/index.html && exec httpd -f -p 80 -h /www']),
  });
  await inst.rt.startContainer({ containerId });
  t.is((await page('127.0.0.1', port)).body.trim(), 'only-local');
  const addr = hostAddress();
  if (addr) await t.throwsAsync(get(addr, port), undefined, `nothing on ${addr}:${port}`);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('portmap DEL after a daemon restart (kill -9) uses the cached port mappings', async (t) => {
  const port = randomPort();
  const { podSandboxId } = await httpdPod('restart', port, 'still-here');
  t.is((await page('127.0.0.1', port)).body.trim(), 'still-here');
  await inst.restart(true);
  t.is((await page('127.0.0.1', port)).body.trim(), 'still-here', 'the pod kept serving across the restart');
  await inst.rt.stopPodSandbox({ podSandboxId });
  t.deepEqual(natRulesOf(inst), []);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

const netd = () => path.join(inst.dir, 'net.d');
const testConf = () => JSON.parse(readFileSync(path.join(netd(), '10-test.conflist'), 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };

/** Runs `fn` with `file` (sorting before 10-test.conflist when named 0x-…) in the conf dir, removed after. */
async function withConf<T>(file: string, body: string, fn: () => Promise<T>): Promise<T> {
  const f = path.join(netd(), file);
  writeFileSync(f, body);
  try {
    return await fn();
  } finally {
    rmSync(f, { force: true });
  }
}

async function networkReady(): Promise<{ status: boolean; message: string }> {
  const c = (await inst.rt.status({})).status!.conditions.find((x) => x.type === 'NetworkReady')!;
  return { status: c.status, message: c.message };
}

function execIn(containerId: string, cmd: string[]) {
  return inst.rt.execSync({ containerId, cmd, timeout: 10n });
}

test.serial('a network config that appears after start-up is picked up; until then RunPodSandbox fails clearly', async (t) => {
  const conf = path.join(netd(), '10-test.conflist');
  const away = path.join(inst.dir, 'conf.away');
  renameSync(conf, away);
  try {
    const s = await networkReady();
    t.false(s.status);
    t.regex(s.message, /no network config found in .*net\.d/);
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('early') }), { message: /FAILED_PRECONDITION.*network not ready: no network config found/ });
    t.deepEqual(inst.leaks(), [], 'the refused pod left nothing');
    // A host-network pod needs no CNI and runs meanwhile.
    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('hostnet', { linux: { securityContext: { namespaceOptions: { network: 2, pid: 1 } } } }) });
    await inst.rt.removePodSandbox({ podSandboxId });
  } finally {
    renameSync(away, conf);
  }
  t.true((await networkReady()).status, 'ready as soon as the file is there');
  const info = JSON.parse((await inst.rt.status({ verbose: true })).info.cni!) as Record<string, unknown>;
  t.like(info, { network: inst.network, file: conf, plugins: ['bridge', 'portmap', 'loopback'], timeoutMs: PLUGIN_TIMEOUT_S * 1000 });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('late') });
  t.regex((await inst.rt.podSandboxStatus({ podSandboxId })).status!.network!.ip, /^10\./);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a malformed first config makes the network not ready with the parse error', async (t) => {
  await withConf('05-broken.conflist', '{"cniVersion": "1.0.0", "name": ', async () => {
    const s = await networkReady();
    t.false(s.status);
    t.regex(s.message, /05-broken\.conflist: not valid JSON/);
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('broken') }), { message: /05-broken\.conflist: not valid JSON/ });
  });
  t.true((await networkReady()).status);
  t.deepEqual(inst.leaks(), []);
});

test.serial('a plugin missing from every plugin dir is named, in Status and in RunPodSandbox', async (t) => {
  const c = testConf();
  c.plugins.push({ type: 'berth-absent-plugin' });
  await withConf('05-missing.conflist', JSON.stringify(c), async () => {
    const s = await networkReady();
    t.false(s.status);
    t.regex(s.message, /CNI plugin berth-absent-plugin not found in \/opt\/cni\/bin:\/usr\/lib\/cni:/);
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('absent') }), { message: /berth-absent-plugin not found/ });
  });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a plugin that hangs is killed at the time limit and the pod creation rolled back', async (t) => {
  const c = testConf();
  const marker = path.join(inst.dir, `hang-${randomBytes(3).toString('hex')}.pid`);
  c.plugins.push({ type: 'berth-test-hang', marker });
  await withConf('05-hang.conflist', JSON.stringify(c), async () => {
    const started = Date.now();
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('hang') }), { message: /DEADLINE_EXCEEDED.*berth-test-hang did not answer within 4000 ms/ });
    const took = Date.now() - started;
    t.true(took >= PLUGIN_TIMEOUT_S * 1000 && took < 30_000, `took ${took} ms`);
    const pid = Number(readFileSync(marker, 'utf8'));
    t.false(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), 'the hanging plugin was killed');
  });
  t.deepEqual(inst.leaks(), [], 'IP, veth, portmap rules, pins and records are gone');
});

test.serial('a plugin error reaches the caller with its CNI code and message', async (t) => {
  const c = testConf();
  // host-local refuses a range outside its subnet: a real plugin error (code 7? it says so).
  (c.plugins[0]!.ipam as Record<string, unknown>).ranges = [[{ subnet: '10.254.254.0/24', rangeStart: '10.254.253.5' }]];
  await withConf('05-bad-range.conflist', JSON.stringify(c), async () => {
    const e = await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('badrange') }));
    t.regex(e!.message, /CNI ADD bridge for pod [0-9a-f]{12}: plugin bridge failed: code \d+: .*10\.254\.253\.5/);
  });
  t.deepEqual(inst.leaks(), []);
});

test.serial('two pods on the bridge reach each other and their gateway; CHECK passes; all IPs reported', async (t) => {
  const port = randomPort();
  const a = await httpdPod('peer-a', port, 'from-a');
  const bCfg = podConfig('peer-b');
  const b = (await inst.rt.runPodSandbox({ config: bCfg })).podSandboxId;
  const { containerId } = await inst.rt.createContainer({ podSandboxId: b, sandboxConfig: bCfg, config: containerConfig('client', busybox, ['sleep', '1000']) });
  await inst.rt.startContainer({ containerId });
  const aIp = (await inst.rt.podSandboxStatus({ podSandboxId: a.podSandboxId })).status!.network!.ip;
  const gw = inst.subnet.replace(/0\/24$/, '1');
  let out = '';
  for (let i = 0; i < 25 && !out.includes('from-a'); i++) {
    // nc, not busybox-static's wget (it crashes resolving even a literal address in a container).
    out = (await execIn(containerId, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${aIp} 80`])).stdout.toString();
    if (!out.includes('from-a')) await sleep(200);
  }
  t.regex(out, /^HTTP\/1\.[01] 200[^]*\r\n\r\nfrom-a\n$/, 'pod B fetched pod A\'s page over the bridge');
  const ping = await execIn(containerId, ['ping', '-c', '1', '-W', '2', gw]);
  t.is(ping.exitCode, 0, `ping ${gw}: ${ping.stdout.toString()}${ping.stderr.toString()}`);
  const hosts = (await execIn(containerId, ['cat', '/etc/hosts'])).stdout.toString();
  const bIp = (await inst.rt.podSandboxStatus({ podSandboxId: b })).status!.network!.ip;
  t.regex(hosts, new RegExp(`${bIp.replace(/\./g, '\\.')}\\s+peer-b`), '/etc/hosts names the pod IP');
  const verbose = JSON.parse((await inst.rt.podSandboxStatus({ podSandboxId: b, verbose: true })).info.info!) as { networkCheck: string };
  t.is(verbose.networkCheck, '', 'CNI CHECK of bridge, portmap and loopback passes');
  for (const id of [a.podSandboxId, b]) await inst.rt.removePodSandbox({ podSandboxId: id });
  t.deepEqual(inst.leaks(), []);
});

test.serial('dual-stack: bridge + host-local with an IPv4 and an IPv6 range; IPv4 is the pod IP, IPv6 the additional one', async (t) => {
  const c = testConf();
  // Groups of four hex digits with no leading zero: the plugin prints the address in its
  // canonical form ("025c" becomes "25c"), which the prefix check below compares with.
  const group = () => (0x1000 + randomInt(0xf000)).toString(16);
  const v6 = `fd${randomBytes(1).toString('hex')}:${group()}:${group()}::/64`;
  const ipam = c.plugins[0]!.ipam as Record<string, unknown>;
  ipam.ranges = [[{ subnet: v6 }], ...(ipam.ranges as unknown[])]; // IPv6 first in the config: berth still reports IPv4 first
  await withConf('05-dual.conflist', JSON.stringify(c), async () => {
    const podCfg = podConfig('dual');
    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
    const net = (await inst.rt.podSandboxStatus({ podSandboxId })).status!.network!;
    t.regex(net.ip, /^10\./);
    t.is(net.additionalIps.length, 1);
    t.true(net.additionalIps[0]!.ip.startsWith(v6.replace(/::\/64$/, ':')), net.additionalIps[0]!.ip);
    await inst.rt.removePodSandbox({ podSandboxId });
  });
  t.deepEqual(inst.leaks(), []);
});

test.serial('ptp: the host reaches a pod on its own veth pair', async (t) => {
  const c = testConf();
  const ipam = c.plugins[0]!.ipam;
  c.plugins = [{ type: 'ptp', ipMasq: false, ipam }, { type: 'portmap', capabilities: { portMappings: true } }, { type: 'loopback' }];
  await withConf('05-ptp.conflist', JSON.stringify(c), async () => {
    const port = randomPort();
    const { podSandboxId } = await httpdPod('ptp', port, 'over-ptp');
    const ip = (await inst.rt.podSandboxStatus({ podSandboxId })).status!.network!.ip;
    t.is((await page(ip, 80)).body.trim(), 'over-ptp', `http://${ip}/ from the host`);
    t.is((await page('127.0.0.1', port)).body.trim(), 'over-ptp', 'and through its hostPort');
    const route = execFileSync('ip', ['-4', 'route', 'get', ip], { encoding: 'utf8' });
    t.regex(route, /dev veth/, 'routed over the ptp veth, not the bridge');
    await inst.rt.removePodSandbox({ podSandboxId });
    t.notRegex(execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' }), new RegExp(`^${ip.replace(/\./g, '\\.')} `, 'm'), 'the host route is gone');
  });
  t.deepEqual(inst.leaks(), []);
});

test.serial('bandwidth: the pod annotations become a tbf limit on the host veth (and its ifb), gone after removal', async (t) => {
  const c = testConf();
  c.plugins.splice(1, 0, { type: 'bandwidth', capabilities: { bandwidth: true } });
  const ifbs = () => execFileSync('ip', ['-o', 'link', 'show', 'type', 'ifb'], { encoding: 'utf8' });
  const ifbBefore = ifbs();
  await withConf('05-bw.conflist', JSON.stringify(c), async () => {
    const podCfg = podConfig('bw', { annotations: { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '2M' } });
    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
    const veth = /^\d+: (veth[^@:]+)/m.exec(execFileSync('ip', ['-o', 'link', 'show', 'master', inst.bridge], { encoding: 'utf8' }))![1]!;
    const qdisc = execFileSync('tc', ['qdisc', 'show', 'dev', veth], { encoding: 'utf8' });
    t.regex(qdisc, /tbf .*rate 1Mbit/, qdisc);
    t.not(ifbs(), ifbBefore, 'an ifb device carries the egress limit');
    await inst.rt.removePodSandbox({ podSandboxId });
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('bw-bad', { annotations: { 'kubernetes.io/egress-bandwidth': 'lots' } }) }), { message: /INVALID_ARGUMENT.*egress-bandwidth/ });
  });
  t.is(ifbs(), ifbBefore, 'the ifb device is gone');
  t.deepEqual(inst.leaks(), []);
});

test.serial('bad port mappings are INVALID_ARGUMENT before anything is made', async (t) => {
  for (const pm of [{ hostPort: 70000, containerPort: 80 }, { hostPort: 8080, containerPort: 0 }, { hostPort: 8080, containerPort: 80, hostIp: 'not-an-ip' }]) {
    await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('badport', { portMappings: [pm] }) }), { message: /INVALID_ARGUMENT.*port mapping/ });
  }
  t.deepEqual(inst.leaks(), []);
});

test.serial('CNI 1.1 (test plugin): CNI_ARGS, STATUS drives NetworkReady, GC at start-up gets the valid attachments and releases a stale one', async (t) => {
  const log = path.join(inst.dir, `v11-${randomBytes(3).toString('hex')}.log`);
  const statusFail = path.join(inst.dir, 'v11-status-fail');
  const conf = { cniVersion: '1.1.0', name: `v11-${randomBytes(3).toString('hex')}`, plugins: [{ type: 'berth-test-v11', log, statusFail }] };
  await withConf('05-v11.conflist', JSON.stringify(conf), async () => {
    t.true((await networkReady()).status);
    writeFileSync(statusFail, '');
    const s = await networkReady();
    t.false(s.status);
    t.regex(s.message, /STATUS of network v11-\w+: plugin berth-test-v11 failed: code 50: test plugin not available \(statusFail file exists\)/);
    rmSync(statusFail);
    const podCfg = podConfig('v11');
    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
    const net = (await inst.rt.podSandboxStatus({ podSandboxId })).status!.network!;
    t.is(net.ip, '10.123.0.2', 'IPv4 first even though the plugin listed IPv6 first');
    t.deepEqual(net.additionalIps.map((x) => x.ip), ['fd12:3::2']);
    const m = podCfg.metadata;
    t.true(readFileSync(log, 'utf8').includes(`ADD ${podSandboxId} IgnoreUnknown=1;K8S_POD_NAMESPACE=${m.namespace};K8S_POD_NAME=${m.name};K8S_POD_INFRA_CONTAINER_ID=${podSandboxId};K8S_POD_UID=${m.uid}`));
    // A stale attachment as a crash that lost a pod record would leave it (written by the
    // test in libcni's cache format: this fault cannot be produced for real).
    const stale = 'f'.repeat(64);
    const cacheDir = path.join(inst.root, 'cni', 'results');
    writeFileSync(path.join(cacheDir, `${conf.name}-${stale}-eth0`), JSON.stringify({
      kind: 'cniCacheV1', containerId: stale, config: Buffer.from(JSON.stringify(conf)).toString('base64'), ifName: 'eth0', networkName: conf.name,
      result: { cniVersion: '1.1.0', ips: [{ address: '10.123.0.3/24' }] },
    }));
    await inst.restart();
    const calls = readFileSync(log, 'utf8');
    t.true(calls.includes(`DEL ${stale}`), 'the stale attachment was DELeted');
    t.false(existsSync(path.join(cacheDir, `${conf.name}-${stale}-eth0`)), 'and its cache entry removed');
    const gc = /^GC (.*)$/m.exec(calls)?.[1];
    t.truthy(gc, calls);
    t.deepEqual((JSON.parse(gc!) as { 'cni.dev/valid-attachments': unknown })['cni.dev/valid-attachments'], [{ containerID: podSandboxId, ifname: 'eth0' }]);
    t.false(calls.includes(`DEL ${podSandboxId}`), 'the live pod was kept');
    await inst.rt.removePodSandbox({ podSandboxId });
    t.true(readFileSync(log, 'utf8').includes(`DEL ${podSandboxId}`));
  });
  t.deepEqual(inst.leaks(), []);
});

test.serial('a failed ADD is followed by DEL; a failing DEL is retried, keeps the pod, and a later Stop finishes it once', async (t) => {
  const log = path.join(inst.dir, `v11-${randomBytes(3).toString('hex')}.log`);
  const addFail = path.join(inst.dir, 'v11-add-fail');
  const delFail = path.join(inst.dir, 'v11-del-fail');
  const conf = { cniVersion: '1.1.0', name: `v11-${randomBytes(3).toString('hex')}`, plugins: [{ type: 'berth-test-v11', log, addFail, delFail }] };
  await withConf('05-v11.conflist', JSON.stringify(conf), async () => {
    writeFileSync(addFail, '');
    const e = await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('addfail') }));
    t.regex(e!.message, /UNAVAILABLE.*plugin berth-test-v11 failed: code 11: test ADD failure/, 'code 11 (try again later) is UNAVAILABLE');
    const id = /^ADD (\w+)/m.exec(readFileSync(log, 'utf8'))![1]!;
    t.regex(readFileSync(log, 'utf8'), new RegExp(`^DEL ${id}$`, 'm'), 'the failed ADD was followed by DEL');
    rmSync(addFail);

    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('delfail') });
    writeFileSync(delFail, '');
    await t.throwsAsync(inst.rt.stopPodSandbox({ podSandboxId }), { message: /test DEL failure/ });
    const dels = () => readFileSync(log, 'utf8').split('\n').filter((l) => l === `DEL ${podSandboxId}`).length;
    t.is(dels(), 3, 'DEL was tried three times');
    rmSync(delFail);
    await inst.rt.stopPodSandbox({ podSandboxId });
    t.is(dels(), 4);
    await inst.rt.stopPodSandbox({ podSandboxId });
    await inst.rt.removePodSandbox({ podSandboxId });
    t.is(dels(), 4, 'once DEL succeeded, Stop and Remove do not DEL again');
  });
  t.deepEqual(inst.leaks(), []);
});

test.serial('UpdateRuntimeConfig: the pod CIDR reaches host-local as ipRanges, survives a restart, and a bad one is INVALID_ARGUMENT', async (t) => {
  const c = testConf();
  c.plugins[0]!.capabilities = { ipRanges: true };
  // A node config that takes its range from the pod CIDR names none itself (host-local
  // would add the runtime's ranges to its own): without the CIDR it has no range at all.
  delete (c.plugins[0]!.ipam as Record<string, unknown>).ranges;
  await withConf('05-cidr.conflist', JSON.stringify(c), async () => {
    try {
      await t.throwsAsync(inst.rt.runPodSandbox({ config: podConfig('nocidr') }), { message: /plugin bridge failed/ });
      await t.throwsAsync(inst.rt.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: '10.1.2.3/40' } } }), { message: /INVALID_ARGUMENT.*10\.1\.2\.3\/40/ });
      await inst.rt.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: inst.subnet } } });
      await inst.restart();
      const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('cidr') });
      const ip = (await inst.rt.podSandboxStatus({ podSandboxId })).status!.network!.ip;
      t.true(ip.startsWith(inst.subnet.replace(/0\/24$/, '')), `${ip} is in ${inst.subnet}`);
      await inst.rt.removePodSandbox({ podSandboxId });
    } finally {
      await inst.rt.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: '' } } });
    }
  });
  t.deepEqual(inst.leaks(), []);
});
