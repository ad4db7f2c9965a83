// UpdatePodSandboxResources on a pod cgroup berth made itself (a pod without the
// kubelet's cgroup_parent): the pod's limits are its containers' sum plus the pod
// overhead, written as cgroupfs files (v1 names, or v2's on a pure v2 host).
import type { LinuxContainerResources } from '../gen/runtime/v1/api.js';

export interface CgroupSetting {
  file: string;
  value: string;
}

/** v1 cpu.shares → v2 cpu.weight, the mapping runc and crun use. */
export function sharesToWeight(shares: bigint): bigint {
  return 1n + ((shares - 2n) * 9999n) / 262142n;
}

export function podCgroupSettings(resources: LinuxContainerResources | undefined, overhead: LinuxContainerResources | undefined, v2: boolean): CgroupSetting[] {
  if (!resources) return [];
  const plus = (pick: (r: LinuxContainerResources) => bigint) => (pick(resources) > 0n ? pick(resources) + (overhead && pick(overhead) > 0n ? pick(overhead) : 0n) : 0n);
  const shares = plus((r) => r.cpuShares);
  const quota = plus((r) => r.cpuQuota);
  const memory = plus((r) => r.memoryLimitInBytes);
  const period = resources.cpuPeriod;
  const out: CgroupSetting[] = [];
  const set = (file: string, value: bigint | string) => out.push({ file, value: String(value) });
  if (v2) {
    if (shares > 0n) set('cpu.weight', sharesToWeight(shares < 2n ? 2n : shares > 262144n ? 262144n : shares));
    if (quota > 0n || period > 0n) set('cpu.max', `${quota > 0n ? quota : 'max'} ${period > 0n ? period : 100000n}`);
    if (memory > 0n) set('memory.max', memory);
  } else {
    if (shares > 0n) set('cpu.shares', shares);
    // The period first: a quota is checked against the period in force.
    if (period > 0n) set('cpu.cfs_period_us', period);
    if (quota > 0n) set('cpu.cfs_quota_us', quota);
    if (memory > 0n) set('memory.limit_in_bytes', memory);
  }
  if (resources.cpusetCpus) set('cpuset.cpus', resources.cpusetCpus);
  if (resources.cpusetMems) set('cpuset.mems', resources.cpusetMems);
  return out;
}
