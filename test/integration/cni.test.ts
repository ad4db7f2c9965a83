// Pod networking with the real CNI plugins of Debian's containernetworking-plugins 1.1.1:
// hostPorts through portmap (on the host's address and on 127.0.0.1), teardown after a
// daemon restart, and nothing of a pod's network left once it is removed.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { busybox, containerConfig, type Instance, natRulesOf, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
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
