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
