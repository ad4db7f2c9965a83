// CreateHandoff's bookkeeping (src/store/create-handoff.ts) with in-memory creates; the
// real thing, with slow CNI and runtime creates and gRPC deadlines, is in
// test/integration/create-handoff.test.ts.
import test from 'ava';
import { pino } from 'pino';
import { type Caller, CreateHandoff, present, type Unclaimed } from '../../src/store/create-handoff.js';

const log = pino({ level: 'silent' });
const gone: Caller = { gone: () => true };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** HandoffRecords in memory: what the records would say. */
function records() {
  const kept = new Map<string, Unclaimed>();
  return { kept, kept_: { kept: async (id: string, u: Unclaimed) => void kept.set(id, u), claimed: async (id: string) => void kept.delete(id) } };
}

function deferred() {
  let resolve!: (id: string) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('an answered create leaves nothing behind: the next call makes a new one', async (t) => {
  const h = new CreateHandoff('pod', 1000, log, records().kept_);
  let made = 0;
  const make = async () => `id${++made}`;
  t.is(await h.create('k', 'f', present, make, async () => undefined), 'id1');
  t.is(await h.create('k', 'f', present, make, async () => undefined), 'id2');
  t.is(h.waiting, 0);
});

test('a create whose caller left is handed to a same-config retry, and not discarded', async (t) => {
  const r = records();
  const h = new CreateHandoff('pod', 50, log, r.kept_);
  const discarded: string[] = [];
  const discard = async (id: string) => void discarded.push(id);
  t.is(await h.create('k', 'f', gone, async () => 'a', discard), 'a');
  t.is(h.waiting, 1);
  t.is(r.kept.get('a')?.fingerprint, 'f', 'the record says it waits');
  t.is(await h.create('k', 'f', present, async () => t.fail('made again') as never, discard), 'a');
  t.false(r.kept.has('a'), 'the record no longer says it waits');
  await sleep(100);
  t.deepEqual(discarded, []);
  t.is(h.waiting, 0);
});

test('after a restart, a recorded unclaimed create is handed over or discarded when its grace ends', async (t) => {
  const r = records();
  const h = new CreateHandoff('pod', 10_000, log, r.kept_);
  const discarded: string[] = [];
  h.adopt('k1', 'a', { until: Date.now() + 40, fingerprint: 'f' }, async (id) => void discarded.push(id));
  h.adopt('k2', 'b', { until: Date.now() + 40, fingerprint: 'f' }, async (id) => void discarded.push(id));
  t.is(await h.create('k2', 'f', present, async () => t.fail('made again') as never, async () => undefined), 'b');
  await sleep(100);
  t.deepEqual(discarded, ['a'], 'the rest of the grace, not a new one');
});

test('an unclaimed create is discarded after the grace period', async (t) => {
  const h = new CreateHandoff('container', 30, log, records().kept_);
  const discarded: string[] = [];
  await h.create('k', 'f', gone, async () => 'a', async (id) => void discarded.push(id));
  await sleep(80);
  t.deepEqual(discarded, ['a']);
  t.is(h.waiting, 0);
});

test('retries while in flight wait for the one create; its failure reaches them all', async (t) => {
  const h = new CreateHandoff('pod', 1000, log, records().kept_);
  const d = deferred();
  let made = 0;
  const make = () => (made++, d.promise);
  const first = h.create('k', 'f', gone, make, async () => undefined);
  const retries = [h.create('k', 'f', present, make, async () => undefined), h.create('k', 'f', present, make, async () => undefined)];
  d.resolve('a');
  t.deepEqual(await Promise.all([first, ...retries]), ['a', 'a', 'a']);
  t.is(made, 1);
  t.is(h.waiting, 0, 'claimed while in flight: not kept for discarding');

  const e = deferred();
  const failing = h.create('k2', 'f', gone, () => e.promise, async () => undefined);
  const waiter = h.create('k2', 'f', present, () => e.promise, async () => undefined);
  e.reject(new Error('CNI ADD failed'));
  await t.throwsAsync(failing, { message: 'CNI ADD failed' });
  await t.throwsAsync(waiter, { message: 'CNI ADD failed' });
  t.is(h.waiting, 0);
});

test('a different config under a held name takes the ordinary path (the name registrar refuses it)', async (t) => {
  const h = new CreateHandoff('pod', 1000, log, records().kept_);
  await h.create('k', 'f1', gone, async () => 'a', async () => undefined);
  await t.throwsAsync(h.create('k', 'f2', present, () => Promise.reject(new Error('name reserved')), async () => undefined), { message: 'name reserved' });
  t.is(await h.create('k', 'f1', present, async () => 'b', async () => undefined), 'a', 'the kept one is still there for its own retry');
  h.close();
});
