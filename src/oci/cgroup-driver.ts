// The two cgroup drivers the kubelet knows. With `cgroupfs`, cgroup_parent is a path and
// berth (or runc) makes directories under it. With `systemd`, cgroup_parent is a slice
// name (`kubepods-besteffort-pod<uid>.slice`) that systemd owns: each container becomes a
// transient scope `<prefix>-<id>.scope` in it, made by runc (`--systemd-cgroup`, OCI
// cgroupsPath `<slice>:<prefix>:<name>`) through systemd's D-Bus API. berth reads stats
// from the scope's directory, which is where systemd puts the slice (expandSlice).
import { existsSync } from 'node:fs';
import { invalid } from '../errors.js';

export type CgroupDriverName = 'cgroupfs' | 'systemd';

/** The prefix of the scopes runc makes for berth's containers (`berth-<id>.scope`, as CRI-O's `crio-<id>.scope`). */
export const SCOPE_PREFIX = 'berth';

/** Parent slice of pods that come without a cgroup_parent under the systemd driver (CRI-O's default too). */
export const DEFAULT_SLICE = 'system.slice';

/**
 * The cgroupfs path of a systemd slice, relative to each hierarchy's root, as systemd lays
 * it out and runc computes it (libcontainer/cgroups/systemd ExpandSlice): every '-' opens
 * a level, `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root.
 * Anything systemd would refuse (no `.slice`, a '/', an empty part) is INVALID_ARGUMENT.
 */
export function expandSlice(slice: string): string {
  const where = `cgroup_parent ${JSON.stringify(slice)}`;
  if (!slice.endsWith('.slice')) throw invalid(`${where}: the systemd cgroup driver takes a slice name ending in .slice`);
  const name = slice.slice(0, -'.slice'.length);
  if (name === '-') return '/';
  if (!name || name.includes('/')) throw invalid(`${where}: not a slice name (no '/' and not empty)`);
  if (!/^[A-Za-z0-9:_.\\-]+$/.test(name)) throw invalid(`${where}: a slice name takes only letters, digits and ":_.\\-"`);
  const parts = name.split('-');
  if (parts.some((p) => p === '')) throw invalid(`${where}: a slice name has no empty part ('--', or a leading or trailing '-')`);
  let prefix = '';
  let path = '';
  for (const p of parts) {
    prefix = prefix ? `${prefix}-${p}` : p;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** Where a container's cgroup is: what the OCI spec says, and the directory stats read. */
export interface ContainerCgroup {
  /** OCI linux.cgroupsPath. */
  oci: string;
  /** The cgroup's path relative to each hierarchy's root. */
  path: string;
  /** The runtime must be run with --systemd-cgroup. */
  systemd: boolean;
}

/** A container's cgroup under its pod's: `<pod path>/berth-<id>` (cgroupfs) or `berth-<id>.scope` in the pod's slice. */
export function containerCgroup(pod: { cgroupPath: string; systemdSlice?: string }, id: string): ContainerCgroup {
  if (pod.systemdSlice) return { oci: `${pod.systemdSlice}:${SCOPE_PREFIX}:${id}`, path: `${pod.cgroupPath}/${SCOPE_PREFIX}-${id}.scope`, systemd: true };
  return { oci: `${pod.cgroupPath}/berth-${id}`, path: `${pod.cgroupPath}/berth-${id}`, systemd: false };
}

/**
 * Why the configured driver cannot work on this host, or undefined when it can. systemd
 * is "running" as sd_booted(3) defines it: /run/systemd/system exists (PID 1 made it).
 * `root` is for tests; the real check looks at the host's /run.
 */
export function driverProblem(driver: CgroupDriverName, root = ''): string | undefined {
  if (driver !== 'systemd') return undefined;
  if (existsSync(`${root}/run/systemd/system`)) return undefined;
  return 'cgroup_driver is "systemd" but systemd is not running on this host (no /run/systemd/system; PID 1 is not systemd), so no pod can get its slice and scopes: set cgroup_driver = "cgroupfs" or run berthd on a systemd host';
}
