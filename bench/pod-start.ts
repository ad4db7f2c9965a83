// `npm run bench` (scripts/bench.sh): pod start latency (RunPodSandbox + CreateContainer + StartContainer)
// and teardown on real parts, plus the memory a running pod costs (monitor PSS).
// Needs root and the local registry with the test images (scripts/bench.sh starts them).
// Prints figures; asserts nothing about speed.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busybox, containerConfig, podConfig, startInstance } from '../test/helpers/instance.js';

const N = Number(process.env.BENCH_N ?? 20);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const pss = (pid: number) => {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

/** The floor under berth's numbers: bare `runc run` of a static busybox, no CRI at all. */
function bareRuncRun(n: number): number[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
  try {
    mkdirSync(path.join(dir, 'rootfs', 'proc'), { recursive: true });
    mkdirSync(path.join(dir, 'rootfs', 'dev'));
    copyFileSync('/bin/busybox', path.join(dir, 'rootfs', 'busybox'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
      ociVersion: '1.0.2',
      process: { args: ['/busybox', 'true'], cwd: '/', user: { uid: 0, gid: 0 } },
      root: { path: 'rootfs' },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }] },
    }));
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      execFileSync('runc', ['--root', path.join(dir, 'state'), 'run', '--bundle', dir, `bench-${i}`], { stdio: 'ignore' });
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const bare = bareRuncRun(N);
  console.log(`reference: bare \`runc run\` (no CRI, no network) p50 ${pct(bare, 50).toFixed(1)} ms`);
  const inst = await startInstance();
  try {
    await inst.img.pullImage({ image: { image: busybox } });
    for (const handler of ['runc', 'crun-v1']) {
      const start: number[] = [];
      const runp: number[] = [];
      const teardown: number[] = [];
      const monitorKb: number[] = [];
      for (let i = 0; i < N; i++) {
        const podCfg = podConfig(`bench-${handler}-${i}`, { logDirectory: inst.logDir });
        const t0 = performance.now();
        const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg, runtimeHandler: handler });
        const t1 = performance.now();
        const cfg = containerConfig(`c${i}`, busybox, ['sleep', '1000']);
        const { containerId } = await inst.rt.createContainer({ podSandboxId, config: cfg, sandboxConfig: podCfg });
        await inst.rt.startContainer({ containerId });
        const t2 = performance.now();
        const info = JSON.parse((await inst.rt.containerStatus({ containerId, verbose: true })).info.info!) as { monitorPid: number };
        monitorKb.push(pss(info.monitorPid));
        const t3 = performance.now();
        await inst.rt.stopPodSandbox({ podSandboxId });
        await inst.rt.removePodSandbox({ podSandboxId });
        teardown.push(performance.now() - t3);
        runp.push(t1 - t0);
        start.push(t2 - t0);
      }
      const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p90 ${pct(xs, 90).toFixed(1)} ms`;
      console.log(`${handler}: pod start (runp+create+start) ${f(start)}  [runp alone ${f(runp)}]`);
      console.log(`${handler}: pod teardown (stopp+rmp) ${f(teardown)}`);
      console.log(`${handler}: berth-monitor PSS per container p50 ${pct(monitorKb, 50)} KiB`);
    }
    // Per-pod memory with 10 pods alive at once (PSS shares the monitor's text among them).
    const alive: string[] = [];
    const mons: number[] = [];
    for (let i = 0; i < 10; i++) {
      const podCfg = podConfig(`mem-${i}`, { logDirectory: inst.logDir, linux: { securityContext: { namespaceOptions: { pid: 1 } } } });
      const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
      const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig(`m${i}`, busybox, ['sleep', '1000']) });
      await inst.rt.startContainer({ containerId });
      alive.push(podSandboxId);
      mons.push((JSON.parse((await inst.rt.containerStatus({ containerId, verbose: true })).info.info!) as { monitorPid: number }).monitorPid);
    }
    const kb = mons.map(pss);
    console.log(`10 pods alive: berth-monitor PSS p50 ${pct(kb, 50)} KiB, max ${Math.max(...kb)} KiB (no infra process: PID not shared)`);
    for (const p of alive) await inst.rt.removePodSandbox({ podSandboxId: p });
    const leaks = inst.leaks();
    if (leaks.length) console.log(`LEAKS:\n${leaks.join('\n')}`);
  } finally {
    await inst.cleanup();
  }
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
