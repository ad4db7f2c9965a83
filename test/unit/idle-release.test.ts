import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleRelease } from '../../src/util/idle-release.js';

test('releases once after the quiet period, never while a state-changing RPC is in flight', async (t) => {
  let released = 0;
  const idle = new IdleRelease(40, () => released++);
  idle.begin();
  idle.begin();
  idle.end();
  await sleep(80);
  t.is(released, 0, 'one RPC is still in flight');
  idle.end();
  await sleep(20);
  t.is(released, 0, 'the quiet period has not passed');
  await sleep(60);
  t.is(released, 1);
  await sleep(80);
  t.is(released, 1, 'once per quiet spell, not periodically');
  idle.begin();
  idle.end();
  idle.begin(); // a new RPC within the quiet period cancels the pending release
  await sleep(80);
  t.is(released, 1);
  idle.end();
  idle.stop();
  await sleep(80);
  t.is(released, 1, 'stop() cancels the pending release');
});

test('a quiet period of 0 turns it off', async (t) => {
  let released = 0;
  const idle = new IdleRelease(0, () => released++);
  idle.end();
  idle.begin();
  idle.end();
  await sleep(30);
  t.is(released, 0);
});
