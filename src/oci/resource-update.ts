// CRI LinuxContainerResources → OCI `linux.resources` (what `runc update --resources`
// reads), checked first so bad values are INVALID_ARGUMENT naming the field rather than
// a runtime failure. CRI zeros mean "not specified" and are left out, so an update only
// changes what it names.
import { invalid } from '../errors.js';
import type { LinuxContainerResources } from '../gen/runtime/v1/api.js';

/** Cgroup files a `unified` key may name: `<controller>.<file>`, one path component. */
const UNIFIED_KEY = /^[a-z_]+\.[a-z0-9_.]+$/;
/** cpuset lists: "0-3,5". */
const CPU_LIST = /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/;
/** Hugepage sizes as the hugetlb files name them: 2MB, 1GB, 64KB. */
const PAGE_SIZE = /^\d+[KMGT]B$/;

function nonNegative(field: string, v: bigint): void {
  if (v < 0n) throw invalid(`linux resources ${field} ${v} must not be negative`);
}

export interface ResourceHost {
  /** True on a pure cgroup v2 host (`unified` keys need it). */
  cgroupV2: boolean;
}

export function ociResources(r: LinuxContainerResources, host: ResourceHost): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const cpu: Record<string, unknown> = {};
  nonNegative('cpu_shares', r.cpuShares);
  nonNegative('cpu_period', r.cpuPeriod);
  // -1 is CFS's own "no quota"; other negatives mean nothing.
  if (r.cpuQuota < -1n) throw invalid(`linux resources cpu_quota ${r.cpuQuota} must be -1 (no quota) or positive`);
  if (r.cpuShares > 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota !== 0n) cpu.quota = Number(r.cpuQuota);
  if (r.cpuPeriod > 0n) cpu.period = Number(r.cpuPeriod);
  for (const [field, v] of [['cpuset_cpus', r.cpusetCpus], ['cpuset_mems', r.cpusetMems]] as const) {
    if (v && !CPU_LIST.test(v)) throw invalid(`linux resources ${field} ${JSON.stringify(v)} is not a list like "0-3,5"`);
  }
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;

  nonNegative('memory_limit_in_bytes', r.memoryLimitInBytes);
  if (r.memorySwapLimitInBytes < -1n) throw invalid(`linux resources memory_swap_limit_in_bytes ${r.memorySwapLimitInBytes} must be -1 (unlimited) or positive`);
  if (r.memorySwapLimitInBytes > 0n && r.memoryLimitInBytes > 0n && r.memorySwapLimitInBytes < r.memoryLimitInBytes) {
    throw invalid(`linux resources memory_swap_limit_in_bytes ${r.memorySwapLimitInBytes} is below memory_limit_in_bytes ${r.memoryLimitInBytes} (it counts memory plus swap)`);
  }
  const memory: Record<string, unknown> = {};
  if (r.memoryLimitInBytes > 0n) memory.limit = Number(r.memoryLimitInBytes);
  if (r.memorySwapLimitInBytes !== 0n) memory.swap = Number(r.memorySwapLimitInBytes);
  if (Object.keys(memory).length) out.memory = memory;

  if (r.hugepageLimits.length) {
    out.hugepageLimits = r.hugepageLimits.map((h) => {
      if (!PAGE_SIZE.test(h.pageSize)) throw invalid(`linux resources hugepage_limits page_size ${JSON.stringify(h.pageSize)} is not a size like 2MB or 1GB`);
      return { pageSize: h.pageSize, limit: Number(h.limit) };
    });
  }
  const unified = Object.entries(r.unified);
  if (unified.length) {
    if (!host.cgroupV2) throw invalid('linux resources unified: cgroup v2 settings need a cgroup v2 host (this one runs cgroup v1)');
    for (const [k, v] of unified) {
      if (!UNIFIED_KEY.test(k) || k.startsWith('cgroup.')) throw invalid(`linux resources unified key ${JSON.stringify(k)} is not a controller file`);
      if (/[\n\0]/.test(v)) throw invalid(`linux resources unified ${k}: value holds a newline or NUL`);
    }
    out.unified = r.unified;
  }
  return out;
}

/**
 * An update that sets a memory limit but no swap limit keeps the container's swap
 * allowance (swap limit − memory limit, 0 for "no swap" as the kubelet sets on v1):
 * without it, raising the limit above the old memory+swap limit fails in the kernel.
 */
export function keepSwapAllowance(old: LinuxContainerResources | undefined, upd: LinuxContainerResources): LinuxContainerResources {
  if (!old || upd.memoryLimitInBytes <= 0n || upd.memorySwapLimitInBytes !== 0n) return upd;
  if (old.memorySwapLimitInBytes <= 0n || old.memoryLimitInBytes <= 0n) return upd;
  const allowance = old.memorySwapLimitInBytes - old.memoryLimitInBytes;
  return { ...upd, memorySwapLimitInBytes: upd.memoryLimitInBytes + (allowance > 0n ? allowance : 0n) };
}

/** The resources after an update: what the update names replaces, the rest stays. */
export function mergeResources(old: LinuxContainerResources | undefined, upd: LinuxContainerResources): LinuxContainerResources {
  if (!old) return upd;
  const pick = <T>(n: T, o: T, unset: T) => (n === unset ? o : n);
  return {
    cpuPeriod: pick(upd.cpuPeriod, old.cpuPeriod, 0n),
    cpuQuota: pick(upd.cpuQuota, old.cpuQuota, 0n),
    cpuShares: pick(upd.cpuShares, old.cpuShares, 0n),
    memoryLimitInBytes: pick(upd.memoryLimitInBytes, old.memoryLimitInBytes, 0n),
    oomScoreAdj: old.oomScoreAdj, // fixed at start: no runtime can change it later
    cpusetCpus: pick(upd.cpusetCpus, old.cpusetCpus, ''),
    cpusetMems: pick(upd.cpusetMems, old.cpusetMems, ''),
    hugepageLimits: upd.hugepageLimits.length ? upd.hugepageLimits : old.hugepageLimits,
    unified: Object.keys(upd.unified).length ? { ...old.unified, ...upd.unified } : old.unified,
    memorySwapLimitInBytes: pick(upd.memorySwapLimitInBytes, old.memorySwapLimitInBytes, 0n),
  };
}
