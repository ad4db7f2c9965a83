// linux.resources and linux.devices of the OCI spec: CPU and memory from the CRI,
// hugepage limits and `unified` only where this host's cgroups can take them, and the
// device cgroup (deny all, then what each device needs; privileged: everything).
import { invalid } from '../errors.js';
import type { ContainerConfig } from '../gen/runtime/v1/api.js';

/** What this host's cgroups can take (from native.cgroupInfo, see cgroupCaps). */
export interface CgroupCaps {
  /** The hugetlb controller is in the hierarchy the runtime will use. */
  hugetlb: boolean;
  /** Pure cgroup v2: `unified` keys can be written. */
  v2: boolean;
}

/** A host device resolved for the container (stat of its host path). */
export interface HostDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  /** Subset of "rwm". */
  access: string;
}

export function cgroupCaps(info: { mode: string; unifiedControllers: string[]; mountpoints: string[] }): CgroupCaps {
  const v2 = info.mode === 'v2';
  // v1 and hybrid: runc uses the v1 hierarchies, so hugetlb counts only if it is mounted there.
  const v1Hugetlb = info.mountpoints.some((m) => m.startsWith('/sys/fs/cgroup/') && m.slice('/sys/fs/cgroup/'.length).split(',').includes('hugetlb'));
  return { v2, hugetlb: v2 ? info.unifiedControllers.includes('hugetlb') : v1Hugetlb };
}

/** Device permissions: a non-empty subset of "rwm". */
export function checkPermissions(field: string, p: string): string {
  const access = p || 'rwm';
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) throw invalid(`${field} ${JSON.stringify(p)} must be a subset of "rwm"`);
  return access;
}

export function resources(c: ContainerConfig, devices: HostDevice[], caps: CgroupCaps | undefined, privileged: boolean): Record<string, unknown> {
  const r = c.linux?.resources;
  const devRules = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [{ allow: false, access: 'rwm' }, ...devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access }))];
  const out: Record<string, unknown> = { devices: devRules };
  if (!r) return out;
  const cpu: Record<string, unknown> = {};
  if (r.cpuShares > 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota > 0n) cpu.quota = Number(r.cpuQuota);
  if (r.cpuPeriod > 0n) cpu.period = Number(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.memoryLimitInBytes > 0n) {
    out.memory = { limit: Number(r.memoryLimitInBytes), ...(r.memorySwapLimitInBytes > 0n ? { swap: Number(r.memorySwapLimitInBytes) } : {}) };
  }
  // The kubelet sends a limit (0 if none requested) for every page size the node has.
  // Where hugetlb is not in the runtime's hierarchy (this hybrid host: it is on the v2
  // mount while runc uses v1) the runtime would fail every pod: the limits are left out.
  if (caps?.hugetlb && r.hugepageLimits.length) {
    out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: Number(h.limit) }));
  }
  if (Object.keys(r.unified).length) {
    if (!caps?.v2) throw invalid('linux.resources.unified needs a cgroup v2 host; this one runs cgroup v1');
    for (const k of Object.keys(r.unified)) {
      if (!/^[a-z0-9_]+\.[a-z0-9_.]+$/.test(k)) throw invalid(`linux.resources.unified key ${JSON.stringify(k)} is not a cgroup v2 file name`);
    }
    out.unified = { ...r.unified };
  }
  return out;
}

/** linux.devices: the device nodes to create in the container. */
export function linuxDevices(devices: HostDevice[]): object[] {
  return devices.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid }));
}
