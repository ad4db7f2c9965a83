import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Watchdog } from '../../src/registry/http.js';

test('the request watchdog aborts without progress, but not while the consumer holds it', async (t) => {
  const w = new Watchdog(50);
  w.hold();
  await sleep(150);
  t.false(w.controller.signal.aborted, 'a busy consumer is backpressure, not a stall');
  w.touch();
  await sleep(30);
  t.false(w.controller.signal.aborted);
  await sleep(100);
  t.true(w.controller.signal.aborted);
  t.regex(String(w.controller.signal.reason), /no progress for 50 ms/);
  w.done();
});
