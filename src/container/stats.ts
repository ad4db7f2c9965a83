// Container resource usage for ContainerStats / ListContainerStats (and, summed up by the
// pod cgroup, PodSandboxStats): CPU and memory from the container's cgroup (read by the
// native core, v1 or v2), the writable layer from its upper dir. A container whose
// cgroup is gone (exited and deleted by the runtime) still gets an entry with
// timestamps and no figures, as the kubelet expects one per container it listed.
import path from 'node:path';
import type { ContainerStats, CpuUsage, MemoryUsage, SwapUsage, UInt64Value } from '../gen/runtime/v1/api.js';
import { type CgroupStats, native } from '../native/index.js';
import { diskUsageCached } from '../util/disk-usage.js';
import { nowNs } from '../util/time.js';
import type { ContainerRecord } from './container.js';
import type { ContainerService } from './container-service.js';

/** A CRI UInt64Value from a figure the native core may not have (absent stays absent). */
export function u64(v: number | undefined): UInt64Value | undefined {
  return v === undefined || !Number.isFinite(v) || v < 0 ? undefined : { value: BigInt(Math.round(v)) };
}

interface Sample {
  usageNs: number;
  at: number; // monotonic ns, as a JS number (µs precision is all a rate needs)
  rate?: number;
}

/**
 * usage_nano_cores needs two samples: the rate is taken against the previous call's
 * sample for the same cgroup. Samples closer than MIN_WINDOW_NS are too noisy to divide
 * by, so a quick second call reuses the last rate instead of replacing the sample.
 */
const MIN_WINDOW_NS = 100e6;

/** Samples not refreshed for this long belong to removed containers/pods and are dropped. */
const MAX_AGE_NS = 10 * 60e9;

export class CpuRates {
  private readonly samples = new Map<string, Sample>();
  private lastSweep = 0;

  rate(key: string, usageNs: number | undefined, at: number): number | undefined {
    this.sweep(at);
    if (usageNs === undefined) return undefined;
    const prev = this.samples.get(key);
    if (!prev || usageNs < prev.usageNs) {
      this.samples.set(key, { usageNs, at });
      return undefined;
    }
    if (at - prev.at < MIN_WINDOW_NS) return prev.rate;
    const rate = ((usageNs - prev.usageNs) * 1e9) / (at - prev.at);
    this.samples.set(key, { usageNs, at, rate });
    return rate;
  }

  get size(): number {
    return this.samples.size;
  }

  private sweep(at: number): void {
    if (at - this.lastSweep < MAX_AGE_NS) return;
    this.lastSweep = at;
    for (const [k, s] of this.samples) if (at - s.at > MAX_AGE_NS) this.samples.delete(k);
  }
}

export function cpuUsage(s: CgroupStats, timestamp: bigint, nanoCores: number | undefined): CpuUsage {
  return { timestamp, usageCoreNanoSeconds: u64(s.cpuUsageNs), usageNanoCores: u64(nanoCores), psi: undefined };
}

export function memoryUsage(s: CgroupStats, timestamp: bigint): MemoryUsage {
  const available = s.memoryLimit !== undefined && s.memoryWorkingSet !== undefined ? Math.max(0, s.memoryLimit - s.memoryWorkingSet) : undefined;
  return {
    timestamp,
    workingSetBytes: u64(s.memoryWorkingSet),
    availableBytes: u64(available),
    usageBytes: u64(s.memoryUsage),
    rssBytes: u64(s.memoryRss),
    pageFaults: u64(s.pageFaults),
    majorPageFaults: u64(s.majorPageFaults),
    psi: undefined,
  };
}

function swapUsage(s: CgroupStats, timestamp: bigint): SwapUsage {
  const available = s.swapLimit !== undefined && s.swapUsage !== undefined ? Math.max(0, s.swapLimit - s.swapUsage) : undefined;
  return { timestamp, swapUsageBytes: u64(s.swapUsage), swapAvailableBytes: u64(available) };
}

/** What one stats read gathers for a container: the CRI message plus the raw figures (metrics). */
export interface ContainerSample {
  record: ContainerRecord;
  cgroup: CgroupStats;
  layer: { bytes: number; inodes: number };
  stats: ContainerStats;
}

export class ContainerStatsService {
  readonly rates = new CpuRates();

  constructor(
    private readonly containers: ContainerService,
    /** The filesystem the writable layers live on (ImageFsInfo's container filesystem). */
    private readonly layerFs: string,
  ) {}

  /** One cgroup pass for all of `records` (one trip to the libuv pool). */
  async sample(records: ContainerRecord[]): Promise<ContainerSample[]> {
    const cgroups = await native.cgroupStats(records.map((c) => c.cgroupsPath));
    // A layer walk per container, remembered briefly: List and per-container calls
    // arrive together, and the walk is the costly part.
    const layers = await Promise.all(records.map((c) => diskUsageCached(path.join(c.layerDir, 'upper'), 1000).catch(() => ({ bytes: 0, inodes: 0 }))));
    const timestamp = BigInt(nowNs());
    const at = Number(process.hrtime.bigint()); // monotonic: rates must not see clock steps
    return records.map((c, i) => {
      const cg = cgroups[i]!;
      const layer = layers[i]!;
      const cfg = this.containers.config(c);
      const stats: ContainerStats = {
        attributes: { id: c.id, metadata: cfg.metadata, labels: cfg.labels, annotations: cfg.annotations },
        cpu: cpuUsage(cg, timestamp, this.rates.rate(c.id, cg.cpuUsageNs, at)),
        memory: memoryUsage(cg, timestamp),
        writableLayer: { timestamp, fsId: { mountpoint: this.layerFs }, usedBytes: u64(layer.bytes), inodesUsed: u64(layer.inodes) },
        swap: swapUsage(cg, timestamp),
        io: undefined,
      };
      return { record: c, cgroup: cg, layer, stats };
    });
  }

  async stats(records: ContainerRecord[]): Promise<ContainerStats[]> {
    return (await this.sample(records)).map((s) => s.stats);
  }
}
