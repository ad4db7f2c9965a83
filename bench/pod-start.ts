// `npm run bench` (scripts/bench.sh): pod start latency (RunPodSandbox + CreateContainer + StartContainer)
// and teardown on real parts, plus the memory a running pod costs (monitor PSS).
// Needs root and the local registry with the test images (scripts/bench.sh starts them).
// Prints figures; asserts nothing about speed.
import { readFileSync } from 'node:fs';
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

async function main(): Promise<void> {
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
