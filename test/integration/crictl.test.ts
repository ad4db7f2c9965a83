// The issue-2 crictl sequence against a real berthd, with crictl itself: v1.37 (the CRI
// berth speaks, built by scripts/install-critest.sh) and v1.36 (the previous minor, whose
// kubelet must keep working; scripts/install-crictl.sh).
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busybox, type Instance, startInstance } from '../helpers/instance.js';

let inst: Instance;
const cache = process.env.BERTH_CACHE ?? '/var/cache/berth';
const crictls: Record<string, string | undefined> = {
  'v1.37': [process.env.CRICTL_137, path.join(cache, 'cri-tools-v1.37.0', 'crictl')].find((p) => p && existsSync(p)),
  'v1.36': [process.env.CRICTL, '/usr/local/bin/crictl', path.join(os.homedir(), 'go', 'bin', 'crictl')].find((p) => p && existsSync(p)),
};

test.before(async () => {
  inst = await startInstance();
});
test.after.always(async () => {
  await inst?.cleanup();
});

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--runtime-endpoint', `unix://${inst.socket}`, '--image-endpoint', `unix://${inst.socket}`, ...(args.includes('--timeout') ? [] : ['--timeout', '60s']), ...args],
      { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

for (const [version, bin] of Object.entries(crictls)) {
  test.serial(`crictl ${version}: version, pull, images, runp, create, start, ps, logs, exec, inspect, inspectp, stop, rm, stopp, rmp, rmi`, async (t) => {
    if (!bin) return t.fail(`crictl ${version} is not installed (scripts/install-critest.sh builds v1.37, scripts/install-crictl.sh v1.36)`);
    t.regex((await run(bin, ['--version'])).stdout, new RegExp(`crictl version ${version.replace('.', '\\.')}\\.`));
    const crictl = (...args: string[]) => run(bin, args);
    const ok = async (...args: string[]): Promise<string> => {
      const r = await crictl(...args);
      if (r.code !== 0) throw new Error(`crictl ${version} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    };
    const pod = path.join(inst.dir, `pod-${version}.json`);
    const ctr = path.join(inst.dir, `ctr-${version}.json`);
    writeFileSync(pod, JSON.stringify({
      metadata: { name: 'crictl-pod', namespace: 'default', uid: `crictl-uid-${version}`, attempt: 0 },
      hostname: 'crictl-pod', log_directory: inst.logDir,
    }));
    writeFileSync(ctr, JSON.stringify({
      metadata: { name: 'hello' }, image: { image: busybox },
      command: ['/bin/sh', '-c', 'echo hello from berth; sleep 1000'], log_path: 'hello.log',
    }));

    t.regex(await ok('version'), /RuntimeName:\s+berth[\s\S]*RuntimeApiVersion:\s+v1/);
    t.regex(await ok('pull', busybox), /Image is up to date for sha256:[a-f0-9]{64}/);
    t.regex(await ok('images'), new RegExp(`${busybox.replace(/:latest$/, '').replace(/\./g, '\\.')}\\s+latest\\s+[a-f0-9]{13}`));
    const podId = (await ok('runp', pod)).trim();
    t.regex(podId, /^[a-f0-9]{64}$/);
    const ctrId = (await ok('create', podId, ctr, pod)).trim();
    t.regex(ctrId, /^[a-f0-9]{64}$/);
    t.is((await ok('start', ctrId)).trim(), ctrId);
    t.regex(await ok('ps', '-a'), new RegExp(`${ctrId.slice(0, 13)}\\s+${busybox.replace(/\./g, '\\.')}.*Running\\s+hello`));
    let logs = '';
    for (let i = 0; i < 100 && !logs.includes('hello from berth'); i++) {
      logs = await ok('logs', ctrId);
      await new Promise((r) => setTimeout(r, 50));
    }
    t.is(logs, 'hello from berth\n');
    t.is((await ok('exec', '-s', ctrId, 'cat', '/etc/hostname')).trim(), 'crictl-pod');
    const inspect = JSON.parse(await ok('inspect', ctrId)) as { status: { state: string; logPath: string }; info: { pid: number } };
    t.is(inspect.status.state, 'CONTAINER_RUNNING');
    t.is(inspect.status.logPath, path.join(inst.logDir, 'hello.log'));
    t.true(inspect.info.pid > 1);
    const inspectp = JSON.parse(await ok('inspectp', podId)) as { status: { state: string; network: { ip: string } } };
    t.is(inspectp.status.state, 'SANDBOX_READY');
    t.regex(inspectp.status.network.ip, /^10\.\d+\.\d+\.\d+$/);
    t.is((await ok('stop', '--timeout', '1', ctrId)).trim(), ctrId);
    t.regex(await ok('ps', '-a'), /Exited\s+hello/);
    t.is((await ok('rm', ctrId)).trim(), ctrId);
    t.regex(await ok('stopp', podId), /Stopped sandbox/);
    t.regex(await ok('rmp', podId), /Removed sandbox/);
    t.regex(await ok('rmi', busybox), /Deleted:/);
    t.regex(await ok('images'), /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE\s*$/);
    // Not built yet, and saying so.
    t.regex((await crictl('stats')).stderr, /Unimplemented desc = berth: RuntimeService\.ListContainerStats is not implemented yet/);
    t.deepEqual(inst.leaks(), []);
  });
}
