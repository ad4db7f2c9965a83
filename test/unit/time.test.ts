import test from 'ava';
import { nowNs, rfc3339ToNs } from '../../src/util/time.js';

test('RFC 3339 nano timestamps from the monitor become exact ns', (t) => {
  t.is(rfc3339ToNs('2026-12-02T05:46:00.123456789Z'), '1796190360123456789');
  t.is(rfc3339ToNs('2026-12-02T05:46:00Z'), '1796190360000000000');
  t.is(rfc3339ToNs('2026-12-02T05:46:00.5Z'), '1796190360500000000');
  t.is(rfc3339ToNs('garbage'), '0');
});

test('nowNs is close to the wall clock', (t) => {
  t.true(Math.abs(Number(BigInt(nowNs()) / 1_000_000n) - Date.now()) < 1000);
});
