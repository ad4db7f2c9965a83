// The pod workload of the bench, written once against the CRI client (test/helpers/cri-client.ts)
// so that berthd and containerd get byte-for-byte the same RPCs: RunPodSandbox + CreateContainer +
// StartContainer of one busybox `sleep` container (named after its pod: its own log file), sequentially (latency) and 50 at once (rate).
import { readFileSync } from 'node:fs';
import type { Promisified } from '../test/helpers/cri-client.js';
import { containerConfig, podConfig } from '../test/helpers/instance.js';
import type { RuntimeServiceClient } from '../src/gen/runtime/v1/api.js';

export type Rt = Promisified<RuntimeServiceClient>;

/** Where the runtime under test keeps pod logs, and (containerd only) the pods' cgroup parent. */
export interface Target {
  rt: Rt;
  logDir: string;
  /** Empty: the runtime's own default (berthd: its cgroup_root). containerd would use the hierarchy root, so it gets one. */
  cgroupParent?: string;
}

export const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);
export const ms = (x: number) => `${x.toFixed(1)} ms`;
export const p5090 = (xs: number[]) => `p50 ${ms(pct(xs, 50))}, p90 ${ms(pct(xs, 90))}`;

/** A /proc/<pid>/status figure in KiB (VmRSS, VmHWM, RssAnon…); 0 once the process is gone. */
export function statusKb(pid: number, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
/** Resident set (KiB): what `ps` shows; counts shared library pages in full for every process. */
export const rssKb = (pid: number) => statusKb(pid, 'VmRSS');
/** Proportional set (KiB): shared pages split among the processes that map them. */
export function pssKb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
export const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

/** A daemon's memory at one moment: RSS and the anonymous part of it (what no other process can share). */
export interface Mem {
  rssKb: number;
  anonKb: number;
}
export const memOf = (pid: number): Mem => ({ rssKb: rssKb(pid), anonKb: statusKb(pid, 'RssAnon') });
export const memText = (m: Mem) => `RSS ${mb(m.rssKb)} (anonymous ${mb(m.anonKb)})`;

/**
 * A daemon with no pods, idle as a node keeps it: first `quietMs` with no RPC (berthd's
 * idle_release_seconds is 5; Go's scavenger works in the background too), then
 * `pollSeconds` of a kubelet's polling (PLEG relist every second, stats), which faults
 * back what that polling touches. Returns the memory just after the work, after the quiet
 * spell and under the polling.
 */
export async function idleMemory(t: Target, pid: number, quietMs = 6500, pollSeconds = 5): Promise<{ after: Mem; quiet: Mem; polled: Mem }> {
  const after = memOf(pid);
  await new Promise((r) => setTimeout(r, quietMs));
  const quiet = memOf(pid);
  for (let i = 0; i < pollSeconds; i++) {
    await Promise.all([t.rt.listPodSandbox({}), t.rt.listContainers({}), t.rt.listContainerStats({}), t.rt.listPodSandboxStats({}), t.rt.status({})]);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { after, quiet, polled: memOf(pid) };
}
export const idleText = (m: Awaited<ReturnType<typeof idleMemory>>) =>
  `just after the runs ${memText(m.after)}; after a quiet spell ${memText(m.quiet)}; under a kubelet's polling ${memText(m.polled)}`;
/** The summaries' ratio and target marks (bench/pod-start.ts, bench/pull.ts). */
export const fx = (x: number) => `${x.toFixed(2)}×`;
export const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

function cfgs(t: Target, name: string) {
  const pod = podConfig(name, { logDirectory: t.logDir });
  // podConfig's linux block (PID namespace per container) is kept; only the parent is added.
  if (t.cgroupParent) (pod.linux as Record<string, unknown>).cgroupParent = t.cgroupParent;
  return pod;
}

/** One pod: RunPodSandbox + CreateContainer + StartContainer; returns its id, the container's id and the times. */
export async function startPod(t: Target, name: string, image: string, handler = ''): Promise<{ pod: string; ctr: string; total: number; runp: number }> {
  const podCfg = cfgs(t, name);
  const t0 = performance.now();
  const { podSandboxId } = await t.rt.runPodSandbox({ config: podCfg, runtimeHandler: handler });
  const t1 = performance.now();
  const { containerId } = await t.rt.createContainer({ podSandboxId, config: containerConfig(name, image, ['sleep', '1000']), sandboxConfig: podCfg });
  await t.rt.startContainer({ containerId });
  return { pod: podSandboxId, ctr: containerId, total: performance.now() - t0, runp: t1 - t0 };
}

export async function removePod(t: Target, pod: string): Promise<void> {
  await t.rt.stopPodSandbox({ podSandboxId: pod });
  await t.rt.removePodSandbox({ podSandboxId: pod });
}

export interface Sequential {
  start: number[];
  runp: number[];
  teardown: number[];
}

/**
 * `n` pods one after another, each removed before the next (latency, no queueing). `probe`
 * runs while each pod is up (the caller reads its monitor's memory there).
 */
export async function sequential(t: Target, tag: string, n: number, image: string, handler = '', probe?: (pod: string, ctr: string) => Promise<void>): Promise<Sequential> {
  const out: Sequential = { start: [], runp: [], teardown: [] };
  for (let i = 0; i < n; i++) {
    const p = await startPod(t, `${tag}-${i}`, image, handler);
    out.start.push(p.total);
    out.runp.push(p.runp);
    if (probe) await probe(p.pod, p.ctr);
    const t0 = performance.now();
    await removePod(t, p.pod);
    out.teardown.push(performance.now() - t0);
  }
  return out;
}

export interface Burst {
  pods: { pod: string; ctr: string }[];
  failed: string[];
  wallMs: number;
  perPod: number[];
}

/** `n` pods all requested at once, each its own RunPodSandbox → Create → Start chain. The pods stay up. */
export async function burst(t: Target, tag: string, n: number, image: string, handler = ''): Promise<Burst> {
  const t0 = performance.now();
  const res = await Promise.allSettled(Array.from({ length: n }, (_, i) => startPod(t, `${tag}-${i}`, image, handler)));
  const wallMs = performance.now() - t0;
  const ok = res.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = res.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message ?? r.reason)] : []));
  return { pods: ok.map(({ pod, ctr }) => ({ pod, ctr })), failed, wallMs, perPod: ok.map((p) => p.total) };
}

/** Removes every pod of a burst, all at once as well (a kubelet deleting a ReplicaSet); returns the wall time. */
export async function burstTeardown(t: Target, b: Burst): Promise<number> {
  const t0 = performance.now();
  await Promise.all(b.pods.map((p) => removePod(t, p.pod)));
  return performance.now() - t0;
}

/** Pods/s of a burst (only the pods that started count). */
export const rate = (b: Burst) => (b.pods.length / b.wallMs) * 1000;

/** A failure's first line, for a "could not run: …" note. */
export const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 300);

/** Removes every pod the runtime lists (after a burst in which some chains failed half-way). */
export async function removeAll(t: Target): Promise<void> {
  const { items } = await t.rt.listPodSandbox({});
  await Promise.all(items.map((p) => removePod(t, p.id).catch(() => undefined)));
}
