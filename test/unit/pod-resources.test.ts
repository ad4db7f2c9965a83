import test from 'ava';
import { LinuxContainerResources } from '../../src/gen/runtime/v1/api.js';
import { podCgroupSettings, sharesToWeight } from '../../src/pod/pod-resources.js';

const r = (p: Partial<LinuxContainerResources>) => LinuxContainerResources.fromPartial(p);

test('pod cgroup: the containers\' sum plus the overhead, in v1 file names, period before quota', (t) => {
  t.deepEqual(podCgroupSettings(r({ cpuShares: 1024n, cpuPeriod: 100000n, cpuQuota: 50000n, memoryLimitInBytes: 100n }), r({ cpuShares: 2n, cpuQuota: 5000n, memoryLimitInBytes: 10n }), false), [
    { file: 'cpu.shares', value: '1026' },
    { file: 'cpu.cfs_period_us', value: '100000' },
    { file: 'cpu.cfs_quota_us', value: '55000' },
    { file: 'memory.limit_in_bytes', value: '110' },
  ]);
  t.deepEqual(podCgroupSettings(undefined, r({ cpuShares: 2n }), false), [], 'overhead alone sets nothing');
  t.deepEqual(podCgroupSettings(r({ memoryLimitInBytes: 0n, cpuShares: 0n }), r({ memoryLimitInBytes: 10n }), false), [], 'unlimited stays unlimited');
});

test('pod cgroup on v2: cpu.weight, cpu.max and memory.max', (t) => {
  t.deepEqual(podCgroupSettings(r({ cpuShares: 1024n, cpuQuota: 20000n, cpuPeriod: 100000n, memoryLimitInBytes: 64n, cpusetCpus: '0-1' }), undefined, true), [
    { file: 'cpu.weight', value: String(sharesToWeight(1024n)) },
    { file: 'cpu.max', value: '20000 100000' },
    { file: 'memory.max', value: '64' },
    { file: 'cpuset.cpus', value: '0-1' },
  ]);
  t.is(sharesToWeight(2n), 1n);
  t.is(sharesToWeight(262144n), 10000n);
  t.deepEqual(podCgroupSettings(r({ cpuPeriod: 50000n }), undefined, true), [{ file: 'cpu.max', value: 'max 50000' }]);
});
