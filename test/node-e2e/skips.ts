// The node e2e skip list, in one place (same kinds as critest's, test/conformance/skips.ts):
//   host     — this machine lacks the feature; `when` detects it at run time.
//   upstream — the spec needs something no offline build reproduces (an upstream digest).
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
  // Upstream's busybox image keeps environment entries whose names are not shell
  // identifiers ("data-1") across `sh -c env`; the ash of every Debian busybox build
  // (1.35 here, 1.37 in trixie: both checked) drops them, so the look-alike image cannot
  // show them yet. berth passes them to the container (the CRI env reaches the OCI spec).
  {
    spec: 'ConfigMap should be consumable via the environment',
    kind: 'todo',
    issue: 18,
    why: 'the busybox look-alike\'s ash drops env names like "data-1" that upstream\'s keeps; needs an image whose sh passes them through',
  },
  {
    spec: 'Secrets should be consumable via the environment',
    kind: 'todo',
    issue: 18,
    why: 'as for ConfigMap: the look-alike busybox sh drops env names like "data-1"',
  },
  {
    spec: 'ContainerMetrics [LinuxOnly] when querying /metrics/cadvisor should report container metrics',
    kind: 'todo',
    issue: 18,
    why: 'the kubelet\'s cAdvisor names pod containers only for runtimes it has a plugin for (containerd, CRI-O, docker); for berth the kubelet must take them from the CRI (PodAndContainerStatsFromCRI, beta and off by default, under which this spec skips itself)',
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
