// ListMetricDescriptors / ListPodSandboxMetrics: the kubelet's CRI stats provider asks the
// runtime for cAdvisor's container metrics instead of running cAdvisor. Names, help and
// label keys follow cAdvisor (base labels id, name, image, as CRI-O sends them); values
// come from the same cgroup reads as ContainerStats plus the costlier per-process and
// block-I/O figures, and the pod's network counters. A figure the host does not have
// (no I/O accounting, say) is left out rather than sent as a made-up zero.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ContainerSample } from '../container/stats.js';
import { type Metric, type MetricDescriptor, MetricType } from '../gen/runtime/v1/api.js';
import type { CgroupDetail } from '../native/index.js';
import type { InterfaceCounters } from '../pod/net-stats.js';

const BASE = ['id', 'name', 'image'];
const { COUNTER, GAUGE } = MetricType;

/** What one container's metrics are computed from. */
export interface ContainerFacts {
  sample: ContainerSample;
  detail: CgroupDetail;
  /** statfs of the filesystem holding the writable layers. */
  fs: { bsize: number; blocks: number; files: number; ffree: number } | undefined;
  /** "/dev/sda" etc. by "major:minor". */
  devices: Map<string, string>;
  startedSec: number;
  nowSec: number;
}

type Value = { labels?: string[]; value: number | undefined };
interface Def {
  name: string;
  help: string;
  labels?: string[];
  type: MetricType;
  values: (f: ContainerFacts) => Value[];
}

const one = (value: number | undefined): Value[] => [{ value }];
const secs = (ns: number | undefined) => (ns === undefined ? undefined : Math.floor(ns / 1e9));

/** A device's name ("/dev/sda"), else its "major:minor". */
function device(f: ContainerFacts, d: CgroupDetail['io'][number]): string {
  const key = `${d.major}:${d.minor}`;
  return f.devices.get(key) || key;
}

/** Per device: its name and one counter. */
function perDevice(f: ContainerFacts, pick: (d: CgroupDetail['io'][number]) => number): Value[] {
  return f.detail.io.map((d) => ({ labels: [device(f, d)], value: pick(d) }));
}

const containerDefs: Def[] = [
  { name: 'container_cpu_user_seconds_total', help: 'Cumulative user CPU time consumed in seconds.', type: COUNTER, values: (f) => one(secs(f.sample.cgroup.cpuUserNs)) },
  { name: 'container_cpu_system_seconds_total', help: 'Cumulative system CPU time consumed in seconds.', type: COUNTER, values: (f) => one(secs(f.sample.cgroup.cpuSystemNs)) },
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative CPU time consumed in seconds.', labels: ['cpu'], type: COUNTER, values: (f) => [{ labels: ['total'], value: secs(f.sample.cgroup.cpuUsageNs) }] },
  { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.', type: COUNTER, values: (f) => one(f.sample.cgroup.cpuPeriods) },
  { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.', type: COUNTER, values: (f) => one(f.sample.cgroup.cpuThrottledPeriods) },
  { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.', type: COUNTER, values: (f) => one(secs(f.sample.cgroup.cpuThrottledNs)) },
  { name: 'container_fs_inodes_free', help: 'Number of available inodes.', type: GAUGE, values: (f) => one(f.fs?.ffree) },
  { name: 'container_fs_inodes_total', help: 'Number of inodes.', type: GAUGE, values: (f) => one(f.fs?.files) },
  { name: 'container_fs_limit_bytes', help: 'Number of bytes that can be consumed by the container on this filesystem.', type: GAUGE, values: (f) => one(f.fs ? f.fs.blocks * f.fs.bsize : undefined) },
  { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', type: GAUGE, values: (f) => one(f.sample.layer.bytes) },
  { name: 'container_fs_reads_bytes_total', help: 'Cumulative count of bytes read.', labels: ['device'], type: COUNTER, values: (f) => perDevice(f, (d) => d.readBytes) },
  { name: 'container_fs_writes_bytes_total', help: 'Cumulative count of bytes written.', labels: ['device'], type: COUNTER, values: (f) => perDevice(f, (d) => d.writeBytes) },
  { name: 'container_fs_reads_total', help: 'Cumulative count of reads completed.', labels: ['device'], type: COUNTER, values: (f) => perDevice(f, (d) => d.reads) },
  { name: 'container_fs_writes_total', help: 'Cumulative count of writes completed.', labels: ['device'], type: COUNTER, values: (f) => perDevice(f, (d) => d.writes) },
  {
    name: 'container_blkio_device_usage_total', help: 'Blkio device bytes usage.', labels: ['device', 'major', 'minor', 'operation'], type: COUNTER,
    values: (f) => f.detail.io.flatMap((d) => {
      const dev = [device(f, d), String(d.major), String(d.minor)];
      return [{ labels: [...dev, 'Read'], value: d.readBytes }, { labels: [...dev, 'Write'], value: d.writeBytes }];
    }),
  },
  { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryCache) },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryRss) },
  { name: 'container_memory_kernel_usage', help: 'Size of kernel memory allocated in bytes.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryKernel) },
  { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryMappedFile) },
  { name: 'container_memory_swap', help: 'Container swap usage in bytes.', type: GAUGE, values: (f) => one(f.sample.cgroup.swapUsage) },
  { name: 'container_memory_failcnt', help: 'Number of memory usage hits limits.', type: COUNTER, values: (f) => one(f.sample.cgroup.memoryFailcnt) },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryUsage) },
  { name: 'container_memory_max_usage_bytes', help: 'Maximum memory usage recorded in bytes.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryMaxUsage) },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', type: GAUGE, values: (f) => one(f.sample.cgroup.memoryWorkingSet) },
  {
    name: 'container_memory_failures_total', help: 'Cumulative count of memory allocation failures.', labels: ['failure_type', 'scope'], type: COUNTER,
    // The figures are hierarchical, and a container cgroup has no sub-cgroups: both scopes agree.
    values: (f) => ['container', 'hierarchy'].flatMap((scope) => [
      { labels: ['pgfault', scope], value: f.sample.cgroup.pageFaults },
      { labels: ['pgmajfault', scope], value: f.sample.cgroup.majorPageFaults },
    ]),
  },
  { name: 'container_oom_events_total', help: 'Count of out of memory events observed for the container.', type: COUNTER, values: (f) => one(f.sample.cgroup.oomEvents) },
  { name: 'container_file_descriptors', help: 'Number of open file descriptors for the container.', type: GAUGE, values: (f) => one(f.detail.processes?.fileDescriptors) },
  { name: 'container_processes', help: 'Number of processes running inside the container.', type: GAUGE, values: (f) => one(f.detail.processes?.processes) },
  { name: 'container_sockets', help: 'Number of open sockets for the container.', type: GAUGE, values: (f) => one(f.detail.processes?.sockets) },
  { name: 'container_threads', help: 'Number of threads running inside the container.', type: GAUGE, values: (f) => one(f.detail.processes?.threads) },
  // cAdvisor: 0 stands for "no limit".
  { name: 'container_threads_max', help: 'Maximum number of threads allowed inside the container, infinity if value is zero.', type: GAUGE, values: (f) => one(f.sample.cgroup.found ? (f.sample.cgroup.pidsLimit ?? 0) : undefined) },
  { name: 'container_last_seen', help: 'Last time a container was seen by the exporter.', type: GAUGE, values: (f) => one(f.nowSec) },
  { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.', type: GAUGE, values: (f) => one(f.startedSec) },
  { name: 'container_spec_cpu_period', help: 'CPU period of the container.', type: GAUGE, values: (f) => one(f.sample.cgroup.cpuPeriodUs) },
  { name: 'container_spec_cpu_shares', help: 'CPU share of the container.', type: GAUGE, values: (f) => one(f.sample.cgroup.cpuShares) },
  { name: 'container_spec_cpu_quota', help: 'CPU quota of the container.', type: GAUGE, values: (f) => one(f.sample.cgroup.cpuQuotaUs) },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', type: GAUGE, values: (f) => one(f.sample.cgroup.found ? (f.sample.cgroup.memoryLimit ?? 0) : undefined) },
  {
    name: 'container_spec_memory_swap_limit_bytes', help: 'Memory swap limit for the container.', type: GAUGE,
    // As cAdvisor on v1: the memory+swap limit (0: none).
    values: (f) => {
      const { memoryLimit, swapLimit, found } = f.sample.cgroup;
      return one(!found ? undefined : memoryLimit !== undefined && swapLimit !== undefined ? memoryLimit + swapLimit : 0);
    },
  },
];

const NET = ['interface'];
const netDefs: Array<{ name: string; help: string; pick: (i: InterfaceCounters) => number }> = [
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', pick: (i) => i.rxBytes },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received.', pick: (i) => i.rxPackets },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving.', pick: (i) => i.rxDropped },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', pick: (i) => i.rxErrors },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', pick: (i) => i.txBytes },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted.', pick: (i) => i.txPackets },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting.', pick: (i) => i.txDropped },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', pick: (i) => i.txErrors },
];

export const descriptors: MetricDescriptor[] = [
  ...containerDefs.map((d) => ({ name: d.name, help: d.help, labelKeys: [...BASE, ...(d.labels ?? [])] })),
  ...netDefs.map((d) => ({ name: d.name, help: d.help, labelKeys: [...BASE, ...NET] })),
];

function metric(name: string, type: MetricType, labelValues: string[], value: number): Metric {
  // Timestamp 0: gathered live.
  return { name, timestamp: 0n, metricType: type, labelValues, value: { value: BigInt(Math.max(0, Math.floor(value))) } };
}

export function containerMetrics(f: ContainerFacts): Metric[] {
  const c = f.sample.record;
  const base = [c.id, f.sample.stats.attributes?.metadata?.name ?? '', c.imageName];
  return containerDefs.flatMap((d) =>
    d.values(f).flatMap((v) => (v.value === undefined || !Number.isFinite(v.value) ? [] : [metric(d.name, d.type, [...base, ...(v.labels ?? [])], v.value)])),
  );
}

/** Pod-level metrics: the network counters of the pod's namespace, labelled as cAdvisor labels the pod's infra container. */
export function podNetworkMetrics(podId: string, counters: InterfaceCounters[]): Metric[] {
  return netDefs.flatMap((d) => counters.map((i) => metric(d.name, COUNTER, [podId, 'POD', '', i.name], d.pick(i))));
}

/** "/dev/<name>" of block devices by "major:minor", from sysfs (remembered: devices rarely change). */
const deviceNames = new Map<string, string>();
export async function deviceName(majMin: string): Promise<string> {
  const hit = deviceNames.get(majMin);
  if (hit !== undefined) return hit;
  const uevent = await fs.readFile(path.join('/sys/dev/block', majMin, 'uevent'), 'utf8').catch(() => '');
  const name = /^DEVNAME=(.+)$/m.exec(uevent)?.[1];
  const out = name ? `/dev/${name}` : '';
  deviceNames.set(majMin, out);
  return out;
}
