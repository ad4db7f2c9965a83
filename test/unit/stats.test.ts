import test from 'ava';
import { CpuRates, memoryUsage, u64 } from '../../src/container/stats.js';
import { parseNetDev } from '../../src/pod/net-stats.js';
import { networkUsage } from '../../src/pod/pod-stats.js';

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0
  eth0: 1234567     890    1    2    0     0          0         3   765432     456    4    5    0     0       0          0
 net1:12 3 0 0 0 0 0 0 45 6 0 0 0 0 0 0
`;

test('/proc/net/dev: every interface with its counters, names right after the colon too', (t) => {
  const ifs = parseNetDev(netDev);
  t.deepEqual(ifs.map((i) => i.name), ['lo', 'eth0', 'net1']);
  t.deepEqual(ifs[1], { name: 'eth0', rxBytes: 1234567, rxPackets: 890, rxErrors: 1, rxDropped: 2, txBytes: 765432, txPackets: 456, txErrors: 4, txDropped: 5 });
  t.is(ifs[2]!.txBytes, 45);
  t.deepEqual(parseNetDev('garbage\n\nx: 1 2\n'), []);
});

test('network usage: eth0 is the default interface, the others are listed', (t) => {
  const n = networkUsage(parseNetDev(netDev).filter((i) => i.name !== 'lo'), 5n)!;
  t.is(n.defaultInterface?.name, 'eth0');
  t.is(n.defaultInterface?.rxBytes?.value, 1234567n);
  t.is(n.defaultInterface?.txErrors?.value, 4n);
  t.deepEqual(n.interfaces.map((i) => i.name), ['net1']);
  t.is(networkUsage(undefined, 5n), undefined);
});

test('usage_nano_cores comes from two samples, at least 100 ms apart', (t) => {
  const r = new CpuRates();
  t.is(r.rate('c', 1e9, 10e9), undefined, 'one sample gives no rate');
  t.is(r.rate('c', 1.5e9, 11e9), 0.5e9, 'half a core over one second');
  t.is(r.rate('c', 1.51e9, 11.05e9), 0.5e9, 'a sample 50 ms later reuses the last rate');
  t.is(r.rate('c', 3.5e9, 12e9), 2e9, 'two cores against the kept sample');
  t.is(r.rate('c', 1e6, 13e9), undefined, 'a counter that went back (a new cgroup) starts over');
  t.is(r.rate('d', undefined, 13e9), undefined);
  r.rate('old', 1, 14e9);
  r.rate('c', 4e9, 14e9 + 11 * 60e9);
  t.is(r.size, 1, 'samples unused for 10 minutes are dropped');
});

test('memory usage: available is limit − working set, absent without a limit; absent figures stay absent', (t) => {
  const m = memoryUsage({ found: true, memoryWorkingSet: 30, memoryUsage: 50, memoryLimit: 100, pageFaults: 7 }, 1n);
  t.is(m.availableBytes?.value, 70n);
  t.is(m.usageBytes?.value, 50n);
  t.is(m.rssBytes, undefined);
  t.is(memoryUsage({ found: true, memoryWorkingSet: 30 }, 1n).availableBytes, undefined);
  t.is(u64(-1), undefined);
  t.is(u64(2 ** 53)?.value, 9007199254740992n);
});
