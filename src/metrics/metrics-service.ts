// Gathers what ListPodSandboxMetrics reports: per pod, the network counters of its
// namespace, and per container the stats sample plus processes and block I/O.
import { promises as fs } from 'node:fs';
import type { ContainerService } from '../container/container-service.js';
import type { ContainerStatsService } from '../container/stats.js';
import type { PodSandboxMetrics } from '../gen/runtime/v1/api.js';
import { native } from '../native/index.js';
import type { PodRecord } from '../pod/pod.js';
import { podNetwork } from '../pod/pod-stats.js';
import { containerMetrics, deviceName, podNetworkMetrics } from './cri-metrics.js';

const seconds = (ns: string) => Number(BigInt(ns) / 1_000_000_000n);

export class MetricsService {
  constructor(
    private readonly containers: ContainerService,
    private readonly containerStats: ContainerStatsService,
    /** The filesystem of the writable layers (container_fs_* limits and inodes). */
    private readonly layerFs: string,
  ) {}

  async podMetrics(pods: PodRecord[]): Promise<PodSandboxMetrics[]> {
    const byPod = await Promise.all(pods.map((p) => Promise.all(this.containers.inPod(p.id).map((c) => this.containers.refresh(c)))));
    const records = byPod.flat();
    const [samples, details, statfs] = await Promise.all([
      this.containerStats.sample(records),
      native.cgroupDetail(records.map((c) => c.cgroupsPath)),
      fs.statfs(this.layerFs).catch(() => undefined),
    ]);
    const devices = new Map<string, string>();
    for (const key of new Set(details.flatMap((d) => d.io.map((io) => `${io.major}:${io.minor}`)))) devices.set(key, await deviceName(key));
    const nowSec = Math.floor(Date.now() / 1000);
    const metricsOf = new Map(
      samples.map((sample, i) => {
        const c = sample.record;
        const startedSec = seconds(c.startedAt !== '0' ? c.startedAt : c.createdAt);
        return [c.id, containerMetrics({ sample, detail: details[i]!, fs: statfs, devices, startedSec, nowSec })] as const;
      }),
    );
    return Promise.all(
      pods.map(async (pod, i) => {
        const net = await podNetwork(pod, byPod[i]!);
        return {
          podSandboxId: pod.id,
          metrics: net ? podNetworkMetrics(pod.id, net) : [],
          containerMetrics: byPod[i]!.map((c) => ({ containerId: c.id, metrics: metricsOf.get(c.id) ?? [] })),
        };
      }),
    );
  }
}
