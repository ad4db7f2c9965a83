// Directories the kubelet hard-codes. run.ts makes them on the host when missing (and
// removes them afterwards); inside.ts mounts a temp dir over each, in its own mount
// namespace, so nothing the kubelet writes there lands on the host.
export const kubeletDirs = ['/var/lib/kubelet', '/var/log/pods', '/var/log/containers'];

/**
 * The run's cgroups, all under one root of its own (so runs never meet each other's, and
 * one removal cleans up): the kubelet's cgroup root (it makes <root>/kubepods) and the
 * node's system containers (the kubelet's stats name them kubelet, runtime, misc).
 */
export function runCgroups(root: string) {
  return { root, kubelet: `${root}/kubelet`, runtime: `${root}/runtime`, misc: `${root}/misc` };
}
