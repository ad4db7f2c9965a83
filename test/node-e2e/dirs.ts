// Directories the kubelet hard-codes. run.ts makes them on the host when missing (and
// removes them afterwards); inside.ts mounts a temp dir over each, in its own mount
// namespace, so nothing the kubelet writes there lands on the host.
export const kubeletDirs = ['/var/lib/kubelet', '/var/log/pods', '/var/log/containers'];

/** The node's system containers (the kubelet's stats name them kubelet, runtime, misc). */
export const systemCgroupRoot = '/berth-node-e2e';
export const systemCgroups = { kubelet: `${systemCgroupRoot}/kubelet`, runtime: `${systemCgroupRoot}/runtime`, misc: `${systemCgroupRoot}/misc` };
