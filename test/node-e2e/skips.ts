// The node e2e skip list, in one place (same kinds as critest's, test/conformance/skips.ts):
//   host     — this machine lacks the feature; `when` detects it at run time.
//   upstream — the spec needs something no offline build reproduces (an upstream digest),
//              or something the kubelet gives only to the runtimes it knows by name.
//   todo     — berth does not do it yet; `issue` is the open issue that will.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { activeSkips as active, type Skip } from '../conformance/skips.js';

/** True when this kernel cannot make a dummy network device (no CONFIG_DUMMY). */
const noDummyDevices = () => {
  try {
    execFileSync('unshare', ['--net', 'ip', 'link', 'add', 'berth-probe0', 'type', 'dummy'], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
};

/** True when the host's cgroups are not the unified (v2) hierarchy. */
const cgroupV1 = () => !existsSync('/sys/fs/cgroup/cgroup.controllers');

export const skips: Skip[] = [
  {
    spec: 'Summary API when querying /stats/summary should report resource usage through the stats api',
    kind: 'host',
    why: 'expects PSI (pressure) figures for every container, which the kubelet reads from cgroup v2 files (KubeletPSI is GA and locked on); this host is cgroup v1',
    when: cgroupV1,
  },
  // The kubelet serves /metrics/cadvisor from cAdvisor, which labels a container with its
  // pod and name only through a plugin that asks the runtime (containerd, CRI-O, docker are
  // the ones compiled in). Any other CRI runtime is meant to use the CRI stats path
  // (PodAndContainerStatsFromCRI), and with that gate on this spec skips itself.
  {
    spec: 'ContainerMetrics [LinuxOnly] when querying /metrics/cadvisor should report container metrics',
    kind: 'upstream',
    why: 'cAdvisor (inside the kubelet) names pod containers only for runtimes it has a plugin for (containerd, CRI-O, docker); a CRI runtime without one gets container metrics from the CRI (PodAndContainerStatsFromCRI), under which this spec skips itself',
  },
  {
    spec: 'PrivilegedPod should enable privileged commands',
    kind: 'host',
    why: 'the spec runs `ip link add dummy1 type dummy` in a privileged container; this kernel has no dummy network driver',
    when: noDummyDevices,
  },
];

/** The entries that apply on this host. */
export const activeSkips = (): Skip[] => active(skips);
