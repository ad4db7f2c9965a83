import test from 'ava';
import type { ContainerSample } from '../../src/container/stats.js';
import { containerMetrics, descriptors, podNetworkMetrics } from '../../src/metrics/cri-metrics.js';

const keys = new Map(descriptors.map((d) => [d.name, d.labelKeys]));

function facts(cgroup: ContainerSample['cgroup'], io: Array<{ major: number; minor: number; readBytes: number; writeBytes: number; reads: number; writes: number }> = []) {
  const sample = {
    record: { id: 'c1', imageName: 'img:1' },
    cgroup,
    layer: { bytes: 4096, inodes: 2 },
    stats: { attributes: { metadata: { name: 'app' } } },
  } as unknown as ContainerSample;
  return { sample, detail: { processes: { processes: 2, threads: 5, fileDescriptors: 9, sockets: 1 }, io }, fs: { bsize: 4096, blocks: 10, files: 100, ffree: 40 }, devices: new Map([['8:0', '/dev/sda']]), startedSec: 1000, nowSec: 2000 };
}

test('descriptors: unique cAdvisor names, each with help and the base labels first', (t) => {
  t.is(new Set(descriptors.map((d) => d.name)).size, descriptors.length);
  t.true(descriptors.length >= 45);
  for (const d of descriptors) t.deepEqual(d.labelKeys.slice(0, 3), ['id', 'name', 'image'], d.name);
});

test('container metrics: label values match the descriptor, seconds from ns, absent figures left out', (t) => {
  const m = containerMetrics(facts({ found: true, cpuUsageNs: 2.9e9, memoryWorkingSet: 100, memoryLimit: 1000, swapLimit: 0, pidsLimit: undefined, pageFaults: 7, majorPageFaults: 1 }, [{ major: 8, minor: 0, readBytes: 10, writeBytes: 20, reads: 1, writes: 2 }]));
  for (const x of m) t.is(x.labelValues.length, keys.get(x.name)!.length, x.name);
  const get = (name: string) => m.filter((x) => x.name === name);
  t.deepEqual(get('container_cpu_usage_seconds_total').map((x) => [x.labelValues, x.value?.value]), [[['c1', 'app', 'img:1', 'total'], 2n]]);
  t.is(get('container_memory_rss').length, 0, 'no figure, no metric');
  t.is(get('container_threads_max')[0]?.value?.value, 0n, 'no pids limit is 0 (infinity) as cAdvisor says');
  t.is(get('container_spec_memory_swap_limit_bytes')[0]?.value?.value, 1000n);
  t.is(get('container_fs_limit_bytes')[0]?.value?.value, 40960n);
  t.deepEqual(get('container_blkio_device_usage_total').map((x) => x.labelValues.slice(3)), [['/dev/sda', '8', '0', 'Read'], ['/dev/sda', '8', '0', 'Write']]);
  t.deepEqual(get('container_fs_writes_bytes_total').map((x) => [x.labelValues[3], x.value?.value]), [['/dev/sda', 20n]]);
  t.is(get('container_memory_failures_total').length, 4);
  t.true(m.every((x) => x.timestamp === 0n), 'gathered live');
});

test('a container whose cgroup is gone gets only what does not come from it', (t) => {
  const names = containerMetrics(facts({ found: false })).map((x) => x.name);
  t.false(names.includes('container_threads_max'));
  t.false(names.includes('container_spec_memory_limit_bytes'));
  t.true(names.includes('container_last_seen'));
});

test('pod network metrics carry the interface label', (t) => {
  const m = podNetworkMetrics('p1', [{ name: 'eth0', rxBytes: 1, rxPackets: 2, rxErrors: 3, rxDropped: 4, txBytes: 5, txPackets: 6, txErrors: 7, txDropped: 8 }]);
  t.is(m.length, 8);
  for (const x of m) t.deepEqual(x.labelValues, ['p1', 'POD', '', 'eth0']);
  t.is(m.find((x) => x.name === 'container_network_transmit_packets_dropped_total')?.value?.value, 8n);
});
