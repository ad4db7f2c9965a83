// CI's fast subset of [NodeConformance] (NODE_E2E_SUBSET=1): pods, probes, the container
// runtime blackbox specs, logs, exec, and the security context basics. A Ginkgo focus
// regex over the full spec text ("[sig-node] Pods should … [NodeConformance] …").
const areas = [
  'Pods should',
  'Probing container',
  'Container Runtime blackbox test',
  'Kubelet when scheduling',
  'Security Context',
  'Containers should',
  'PrivilegedPod',
];
export const subsetFocus = `\\[sig-node\\] (${areas.join('|')}).*\\[NodeConformance\\]`;

/**
 * Left out of the subset because they watch a healthy container for minutes on purpose
 * (each of these takes 2.5–4 minutes, most of the subset's time); the full run has them.
 */
export const subsetSkip = ['Probing container should \\*not\\* be restarted', 'Probing container should have monotonically increasing restart count'];
