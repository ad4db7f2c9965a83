// `npm run bench` / `npm run bench:pods` (scripts/bench.sh): the pod figures of issue 15, from one run.
//  - pod start (RunPodSandbox + CreateContainer + StartContainer) p50/p90 over BENCH_N pods, per handler;
//  - BENCH_BURST (50) pods started at once: pods/s, berthd RSS with them up, each monitor's RSS/PSS;
//  - berthd's memory with no pods, fresh and after the runs, as a node keeps it (workload.ts idleMemory);
//  - the floor: bare `runc run` / `crun run` of the same rootfs + one CNI ADD/DEL of the same conflist;
//  - the same workload against containerd 1.6 (BENCH_CONTAINERD=0 skips it), and the ratios.
// Needs root and the local registry with the test images and the bench pause image (scripts/bench.sh).
// Prints figures and how they stand against the targets; asserts nothing about speed.
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { busybox, registry, startInstance, type Instance } from '../test/helpers/instance.js';
import { bareRun, cniAddDel, crunV1, unpackBundle } from './cni-floor.js';
import { startContainerd, type Containerd } from './containerd.js';
import { burst, burstTeardown, firstLine, fx, idleMemory, idleText, type Mem, mb, memText, ms, p5090, pct, pssKb, rate, removeAll, rssKb, sequential, type Target, verdict } from './workload.js';

const N = Number(process.env.BENCH_N ?? 30);
const BURST = Number(process.env.BENCH_BURST ?? 50);
const PEER = process.env.BENCH_CONTAINERD !== '0';
/** The sandbox image containerd needs (berth has a built-in pause): scripts/build-bench-pause.sh pushes it. */
const PAUSE = process.env.BENCH_PAUSE_IMAGE ?? `${registry}/berth-bench/pause:3.9`;

const kib = (xs: number[]) => `p50 ${pct(xs, 50)} KiB, max ${Math.max(...xs)} KiB`;

/** Figures the summary compares; absent ones print as "n/a". */
interface Figures {
  floorMs?: number;
  berthStart?: number;
  berthRate?: number;
  /** berthd with no pods after the sequential runs, under a kubelet's polling (workload.ts idleMemory). */
  berthIdle?: Mem;
  /** The same, after start and one pull, before any pod. */
  berthFresh?: Mem;
  monitorRssKb?: number;
  monitorPssKb?: number;
  ctrdStart?: number;
  ctrdRate?: number;
}

async function monitorPid(inst: Instance, containerId: string): Promise<number> {
  const st = await inst.rt.containerStatus({ containerId, verbose: true });
  return (JSON.parse(st.info.info!) as { monitorPid: number }).monitorPid;
}

function floor(inst: Instance, fig: Figures): void {
  const parent = `/berth-bench-floor-${randomBytes(3).toString('hex')}`;
  const bundle = unpackBundle(busybox, parent);
  try {
    const runs: [string, string][] = [['runc', 'runc'], ['crun', 'crun']];
    let crunRan = false;
    for (const [label, bin] of runs) {
      const r = bareRun(bin, bundle, parent, N);
      if (typeof r === 'string') {
        console.log(`floor: bare \`${label} run\` cannot run here: ${r}`);
        continue;
      }
      if (label === 'crun') crunRan = true;
      if (label === 'runc') fig.floorMs = pct(r, 50);
      console.log(`floor: bare \`${label} run\` of the image's rootfs (to exit) ${p5090(r)}`);
    }
    if (!crunRan) {
      // What berth's crun-v1 handler runs: crun in a mount namespace without the cgroup2 mount.
      const r = bareRun(crunV1, bundle, parent, N);
      console.log(typeof r === 'string' ? `floor: crun-v1 wrapper failed too: ${r}` : `floor: bare \`crun run\` via test/fixtures/crun-v1-only ${p5090(r)}`);
    }
  } finally {
    bundle.remove();
  }
  const conflist = path.join(inst.dir, 'net.d', '10-test.conflist');
  const cni = cniAddDel(conflist, N);
  console.log(`floor: CNI ADD (bridge → portmap → loopback, plugins exec'd directly) ${p5090(cni.add)}; DEL ${p5090(cni.del)}`);
  if (fig.floorMs !== undefined) {
    fig.floorMs += pct(cni.add, 50);
    console.log(`floor: runc run + CNI ADD = ${ms(fig.floorMs)} (p50s added)`);
  }
}

async function berth(inst: Instance, fig: Figures): Promise<void> {
  const t: Target = { rt: inst.rt, logDir: inst.logDir };
  for (const handler of ['runc', 'crun', 'crun-v1']) {
    const mon: number[] = [];
    let s;
    try {
      s = await sequential(t, `bench-${handler}`, N, busybox, handler, async (_pod, ctr) => void mon.push(rssKb(await monitorPid(inst, ctr))));
    } catch (e) {
      // Debian's crun refuses this hybrid host; berth says why (the crun-v1 handler works around it).
      console.log(`berth ${handler}: cannot run here: ${firstLine(e)}`);
      await removeAll(t);
      continue;
    }
    if (handler === 'runc') fig.berthStart = pct(s.start, 50);
    console.log(`berth ${handler}: pod start ${p5090(s.start)} [RunPodSandbox alone ${p5090(s.runp)}]; teardown ${p5090(s.teardown)}; monitor RSS p50 ${pct(mon, 50)} KiB`);
  }

  const idle = await idleMemory(t, inst.proc.pid!);
  fig.berthIdle = idle.polled;
  console.log(`berthd idle with no pods: ${idleText(idle)}`);
  const b = await burst(t, 'burst', BURST, busybox, 'runc');
  for (const f of b.failed.slice(0, 3)) console.log(`berth burst: a pod failed: ${firstLine(f)}`);
  fig.berthRate = rate(b);
  const busy = rssKb(inst.proc.pid!);
  const mons = await Promise.all(b.pods.map((p) => monitorPid(inst, p.ctr)));
  const [rss, pss] = [mons.map(rssKb), mons.map(pssKb)];
  [fig.monitorRssKb, fig.monitorPssKb] = [pct(rss, 50), pct(pss, 50)];
  const down = await burstTeardown(t, b);
  await removeAll(t);
  console.log(`berth runc: ${BURST} pods at once: ${b.pods.length} up in ${ms(b.wallMs)} = ${rate(b).toFixed(1)} pods/s (each pod ${p5090(b.perPod)}); all removed at once in ${ms(down)}`);
  console.log(`berth memory: berthd RSS with ${b.pods.length} pods ${mb(busy)}; per container berth-monitor RSS ${kib(rss)}, PSS ${kib(pss)}`);
}

async function containerd(inst: Instance, fig: Figures): Promise<void> {
  let c: Containerd;
  try {
    c = await startContainerd({ confDir: path.join(inst.dir, 'net.d'), registry, pause: PAUSE });
  } catch (e) {
    console.log(`containerd: not measured: ${(e as Error).message}`);
    return;
  }
  const left: string[] = [];
  try {
    await c.img.pullImage({ image: { image: PAUSE } });
    await c.img.pullImage({ image: { image: busybox } });
    const t: Target = { rt: c.rt, logDir: c.logDir, cgroupParent: c.cgroupParent };
    const shim: number[] = [];
    const s = await sequential(t, 'ctrd', N, busybox, '', async () => void shim.push(...c.shims().map(rssKb)));
    fig.ctrdStart = pct(s.start, 50);
    console.log(`containerd ${c.version} runc: pod start ${p5090(s.start)} [RunPodSandbox alone ${p5090(s.runp)}]; teardown ${p5090(s.teardown)}; shim RSS p50 ${pct(shim, 50)} KiB`);
    const idle = await idleMemory(t, c.proc.pid!);
    console.log(`containerd idle with no pods: ${idleText(idle)}`);
    const b = await burst(t, 'ctrd-burst', BURST, busybox);
    for (const f of b.failed.slice(0, 3)) console.log(`containerd burst: a pod failed: ${firstLine(f)}`);
    fig.ctrdRate = rate(b);
    const busy = rssKb(c.proc.pid!);
    const shims = c.shims();
    const pauses = c.pauses();
    const [shimRss, shimPss, pauseRss] = [shims.map(rssKb), shims.map(pssKb), pauses.map(rssKb)];
    const down = await burstTeardown(t, b);
    await removeAll(t);
    console.log(`containerd runc: ${BURST} pods at once: ${b.pods.length} up in ${ms(b.wallMs)} = ${rate(b).toFixed(1)} pods/s (each pod ${p5090(b.perPod)}); all removed at once in ${ms(down)}`);
    console.log(
      `containerd memory: containerd RSS with ${b.pods.length} pods ${mb(busy)}; per pod containerd-shim-runc-v2 RSS ${kib(shimRss)}, PSS ${kib(shimPss)}` +
        (pauses.length ? `; pause RSS ${kib(pauseRss)}` : ''),
    );
    left.push(...inst.leaks().map((l) => `(after containerd's pods) ${l}`));
  } catch (e) {
    console.log(`containerd: run failed: ${firstLine(e)}`);
    await removeAll({ rt: c.rt, logDir: c.logDir }).catch(() => undefined);
  } finally {
    left.push(...(await c.cleanup()));
  }
  if (left.length) console.log(`containerd LEAKS (swept):\n${left.join('\n')}`);
}

function summary(fig: Figures): void {
  const rows: string[] = [];
  const ratio = (label: string, a: number | undefined, b: number | undefined, target: string, ok: (r: number) => boolean) =>
    rows.push(a === undefined || b === undefined ? `${label}: n/a` : `${label}: ${fx(a / b)} (target ${target}: ${verdict(ok(a / b))})`);
  ratio('start p50 berth/containerd', fig.berthStart, fig.ctrdStart, '≤ 0.5×', (r) => r <= 0.5);
  ratio('burst pods/s berth/containerd', fig.berthRate, fig.ctrdRate, '≥ 2×', (r) => r >= 2);
  ratio('start p50 berth/floor', fig.berthStart, fig.floorMs, '≤ 1.5×', (r) => r <= 1.5);
  // RSS counts shared pages (the static monitor binary's text) in full in every monitor; PSS splits them among the monitors.
  if (fig.monitorRssKb !== undefined && fig.monitorPssKb !== undefined)
    rows.push(`berth-monitor p50: RSS ${mb(fig.monitorRssKb)}, PSS ${mb(fig.monitorPssKb)} (target < 1 MB: RSS ${verdict(fig.monitorRssKb < 1024)}, PSS ${verdict(fig.monitorPssKb < 1024)})`);
  if (fig.berthIdle !== undefined && fig.berthFresh !== undefined)
    rows.push(
      `berthd idle (no pods, kubelet-like polling): ${memText(fig.berthIdle)} after the sequential runs, ${memText(fig.berthFresh)} fresh (target RSS < 60 MB: ${verdict(fig.berthIdle.rssKb < 60 * 1024)}, fresh ${verdict(fig.berthFresh.rssKb < 60 * 1024)})`,
    );
  console.log(`summary (runc):\n  ${rows.join('\n  ')}`);
}

async function main(): Promise<void> {
  console.log(`pod bench: ${N} sequential pods per handler, bursts of ${BURST}; load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  const fig: Figures = {};
  const inst = await startInstance({ cgroupRoot: `/berth-bench-${randomBytes(3).toString('hex')}`, logLevel: 'info' });
  try {
    await inst.img.pullImage({ image: { image: busybox } });
    const fresh = await idleMemory({ rt: inst.rt, logDir: inst.logDir }, inst.proc.pid!);
    fig.berthFresh = fresh.polled;
    console.log(`berthd after start and one pull: ${idleText(fresh)}`);
    floor(inst, fig);
    await berth(inst, fig);
    const leaks = inst.leaks();
    if (leaks.length) console.log(`berth LEAKS:\n${leaks.join('\n')}`);
    if (PEER) await containerd(inst, fig);
    summary(fig);
  } finally {
    await inst.cleanup();
  }
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
