// Pod resource usage for PodSandboxStats / ListPodSandboxStats: CPU, memory and process
// count from the pod cgroup (hierarchical: it holds the pod's containers), network
// counters from the pod's network namespace, and the stats of each of its containers.
import type { ContainerRecord } from '../container/container.js';
import type { ContainerService } from '../container/container-service.js';
import { type ContainerStatsService, cpuUsage, memoryUsage, u64 } from '../container/stats.js';
import type { NetworkInterfaceUsage, NetworkUsage, PodSandboxStats } from '../gen/runtime/v1/api.js';
import { native } from '../native/index.js';
import { nowNs } from '../util/time.js';
import { type InterfaceCounters, netnsCounters } from './net-stats.js';
import type { PodRecord } from './pod.js';
import type { PodService } from './pod-service.js';

/** The interface CNI names in the pod (the CRI's default interface). */
const DEFAULT_IFACE = 'eth0';

function iface(i: InterfaceCounters): NetworkInterfaceUsage {
  return { name: i.name, rxBytes: u64(i.rxBytes), rxErrors: u64(i.rxErrors), txBytes: u64(i.txBytes), txErrors: u64(i.txErrors) };
}

/** Processes that may be in the pod's network namespace: its pause process, then its running containers. */
export function podPids(pod: PodRecord, containers: ContainerRecord[]): number[] {
  return [pod.pausePid ?? 0, ...containers.filter((c) => c.state === 'running').map((c) => c.pid)];
}

/** A pod's network counters; undefined for host-network pods and pods with nothing running. */
export async function podNetwork(pod: PodRecord, containers: ContainerRecord[]): Promise<InterfaceCounters[] | undefined> {
  if (!pod.namespaces.network) return undefined;
  return netnsCounters(pod.namespaces.network, podPids(pod, containers));
}

export function networkUsage(counters: InterfaceCounters[] | undefined, timestamp: bigint): NetworkUsage | undefined {
  if (!counters) return undefined;
  const def = counters.find((i) => i.name === DEFAULT_IFACE);
  return { timestamp, defaultInterface: def ? iface(def) : undefined, interfaces: counters.filter((i) => i !== def).map(iface) };
}

export class PodStatsService {
  constructor(
    private readonly pods: PodService,
    private readonly containers: ContainerService,
    private readonly containerStats: ContainerStatsService,
  ) {}

  async stats(pods: PodRecord[]): Promise<PodSandboxStats[]> {
    const cgroups = await native.cgroupStats(pods.map((p) => p.cgroupPath));
    const timestamp = BigInt(nowNs());
    const at = Number(process.hrtime.bigint());
    return Promise.all(
      pods.map(async (pod, i) => {
        const cg = cgroups[i]!;
        const records = await Promise.all(this.containers.inPod(pod.id).map((c) => this.containers.refresh(c)));
        const cfg = this.pods.config(pod);
        return {
          attributes: { id: pod.id, metadata: cfg.metadata, labels: cfg.labels, annotations: cfg.annotations },
          linux: {
            cpu: cpuUsage(cg, timestamp, this.containerStats.rates.rate(`pod:${pod.id}`, cg.cpuUsageNs, at)),
            memory: memoryUsage(cg, timestamp),
            network: networkUsage(await podNetwork(pod, records), timestamp),
            process: { timestamp, processCount: u64(cg.pids) },
            containers: await this.containerStats.stats(records),
            io: undefined,
          },
          windows: undefined,
        };
      }),
    );
  }
}
