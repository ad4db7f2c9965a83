// The crictl sequence of issue 2 (version, pull, images, runp, create, start, ps, logs,
// exec, inspect, inspectp, stop, rm, stopp, rmp, rmi; stats, statsp and update too) against a running berthd, with the
// real crictl binary `bin`. Shared by the crictl test (two crictl versions) and the
// package test (an installed berthd).
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { busybox, type Instance } from './instance.js';

export function runCrictl(inst: Instance, bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--runtime-endpoint', `unix://${inst.socket}`, '--image-endpoint', `unix://${inst.socket}`, ...(args.includes('--timeout') ? [] : ['--timeout', '60s']), ...args],
      { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs the sequence; `tag` keeps pod names and uids apart between runs on one berthd. */
export async function crictlSequence(t: ExecutionContext, inst: Instance, bin: string, tag: string): Promise<void> {
  const crictl = (...args: string[]) => runCrictl(inst, bin, args);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await crictl(...args);
    if (r.code !== 0) throw new Error(`crictl ${tag} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const pod = path.join(inst.dir, `pod-${tag}.json`);
  const ctr = path.join(inst.dir, `ctr-${tag}.json`);
  writeFileSync(pod, JSON.stringify({
    metadata: { name: 'crictl-pod', namespace: 'default', uid: `crictl-uid-${tag}`, attempt: 0 },
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
  const stats = JSON.parse(await ok('stats', '-o', 'json', '--id', ctrId)) as { stats: Array<{ attributes: { id: string }; memory: { workingSetBytes: { value: string } } }> };
  t.is(stats.stats[0]?.attributes.id, ctrId);
  t.true(Number(stats.stats[0]?.memory.workingSetBytes.value) > 0);
  const statsp = JSON.parse(await ok('statsp', '-o', 'json', '--id', podId)) as { stats: Array<{ attributes: { id: string }; linux: { containers: unknown[] } }> };
  t.is(statsp.stats[0]?.attributes.id, podId);
  t.is(statsp.stats[0]?.linux.containers.length, 1);
  t.regex(await ok('update', '--memory', '67108864', ctrId), new RegExp(ctrId));
  t.is((await ok('stop', '--timeout', '1', ctrId)).trim(), ctrId);
  t.regex(await ok('ps', '-a'), /Exited\s+hello/);
  t.is((await ok('rm', ctrId)).trim(), ctrId);
  t.regex(await ok('stopp', podId), /Stopped sandbox/);
  t.regex(await ok('rmp', podId), /Removed sandbox/);
  t.regex(await ok('rmi', busybox), /Deleted:/);
  t.regex(await ok('images'), /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE\s*$/);
  // Reaches berth's CheckpointContainer, which names the unknown container.
  t.regex((await crictl('checkpoint', '--export', path.join(inst.dir, `cp-${tag}.tar`), 'f'.repeat(64))).stderr, /NotFound desc = container f{64} not found/);
  t.deepEqual(inst.leaks(), []);
}
