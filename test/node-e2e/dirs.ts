// Directories the kubelet hard-codes. run.ts makes them on the host when missing (and
// removes them afterwards); inside.ts mounts a temp dir over each, in its own mount
// namespace, so nothing the kubelet writes there lands on the host.
export const kubeletDirs = ['/var/lib/kubelet', '/var/log/pods', '/var/log/containers'];

/**
 * The node's system containers (the kubelet's stats name them kubelet, runtime, misc),
 * under one cgroup of the run's own, removed with it.
 */
export function runCgroups(root: string) {
  return { root, kubelet: `${root}/kubelet`, runtime: `${root}/runtime`, misc: `${root}/misc` };
}
