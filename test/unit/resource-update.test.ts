import test from 'ava';
import { LinuxContainerResources } from '../../src/gen/runtime/v1/api.js';
import { keepSwapAllowance, mergeResources, ociResources } from '../../src/oci/resource-update.js';

const r = (p: Partial<LinuxContainerResources>) => LinuxContainerResources.fromPartial(p);
const v1 = { cgroupV2: false };

test('CRI resources become OCI linux.resources; zeros (unspecified) are left out', (t) => {
  t.deepEqual(ociResources(r({}), v1), {});
  t.deepEqual(
    ociResources(r({ cpuShares: 512n, cpuQuota: 20_000n, cpuPeriod: 100_000n, cpusetCpus: '0-1,3', memoryLimitInBytes: 1024n, memorySwapLimitInBytes: 2048n, hugepageLimits: [{ pageSize: '2MB', limit: 4194304n }] }), v1),
    { cpu: { shares: 512, quota: 20_000, period: 100_000, cpus: '0-1,3' }, memory: { limit: 1024, swap: 2048 }, hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] },
  );
  t.deepEqual(ociResources(r({ cpuQuota: -1n }), v1), { cpu: { quota: -1 } }, '-1 lifts the CFS quota');
  t.deepEqual(ociResources(r({ unified: { 'memory.high': '1000000' } }), { cgroupV2: true }), { unified: { 'memory.high': '1000000' } });
});

test('bad resources are INVALID_ARGUMENT naming the field', (t) => {
  const bad = (p: Partial<LinuxContainerResources>, re: RegExp, host = v1) => {
    const e = t.throws(() => ociResources(r(p), host));
    t.is((e as { kind?: string }).kind, 'InvalidArgument');
    t.regex(e!.message, re);
  };
  bad({ cpuShares: -1n }, /cpu_shares/);
  bad({ cpuQuota: -2n }, /cpu_quota/);
  bad({ memorySwapLimitInBytes: 10n, memoryLimitInBytes: 20n }, /memory_swap_limit_in_bytes .* below/);
  bad({ cpusetMems: '0\n1' }, /cpuset_mems/);
  bad({ hugepageLimits: [{ pageSize: 'huge', limit: 1n }] }, /page_size/);
  bad({ unified: { 'memory.max': '1' } }, /cgroup v2 host/);
  bad({ unified: { '../../memory.max': '1' } }, /not a controller file/, { cgroupV2: true });
  bad({ unified: { 'cgroup.procs': '1' } }, /not a controller file/, { cgroupV2: true });
});

test('an update replaces what it names and keeps the rest; the swap allowance follows the memory limit', (t) => {
  const old = r({ cpuShares: 512n, memoryLimitInBytes: 64n, memorySwapLimitInBytes: 64n, oomScoreAdj: 100n, unified: { a: '1' } });
  const m = mergeResources(old, r({ memoryLimitInBytes: 32n, memorySwapLimitInBytes: 32n, cpuQuota: 5n, unified: { b: '2' } }));
  t.is(m.cpuShares, 512n);
  t.is(m.memoryLimitInBytes, 32n);
  t.is(m.cpuQuota, 5n);
  t.is(m.oomScoreAdj, 100n);
  t.deepEqual(m.unified, { a: '1', b: '2' });
  t.is(keepSwapAllowance(old, r({ memoryLimitInBytes: 96n })).memorySwapLimitInBytes, 96n, 'no swap stays no swap');
  t.is(keepSwapAllowance(r({ memoryLimitInBytes: 64n, memorySwapLimitInBytes: 80n }), r({ memoryLimitInBytes: 96n })).memorySwapLimitInBytes, 112n);
  t.is(keepSwapAllowance(old, r({ memoryLimitInBytes: 96n, memorySwapLimitInBytes: 200n })).memorySwapLimitInBytes, 200n, 'an explicit swap limit wins');
  t.is(keepSwapAllowance(r({}), r({ memoryLimitInBytes: 96n })).memorySwapLimitInBytes, 0n, 'none before, none added');
});
