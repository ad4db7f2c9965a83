// The protocol pieces of the streaming server that need no container: tokens, the final
// status message, resize parsing, which streams a request calls for, URL parsing.
import test from 'ava';
import { statusMessage } from '../../src/stream/remote-command.js';
import { MAX_PENDING, RequestCache } from '../../src/stream/request-cache.js';
import { offeredProtocols } from '../../src/stream/protocols.js';
import { parsePath } from '../../src/stream/server.js';
import { expectedStreams, resizeParser } from '../../src/stream/spdy-command.js';

const execReq = { kind: 'exec' as const, containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: true };

test('tokens: unguessable, single use, kind-bound, and gone after the TTL', (t) => {
  let now = 1000;
  const cache = new RequestCache(60_000, () => now);
  const a = cache.insert(execReq);
  const b = cache.insert(execReq);
  t.not(a, b);
  t.regex(a, /^[A-Za-z0-9_-]{43}$/);
  t.is(cache.consume(a, 'attach'), undefined, 'an exec token is no attach token');
  t.is(cache.consume(a, 'exec'), undefined, 'and a wrong-kind attempt used it up');
  t.deepEqual(cache.consume(b, 'exec'), execReq);
  t.is(cache.consume(b, 'exec'), undefined, 'single use');
  const c = cache.insert(execReq);
  now += 60_000;
  t.is(cache.consume(c, 'exec'), undefined, 'expired');
  t.is(cache.size, 0);
});

test('tokens: the number pending is bounded', (t) => {
  const cache = new RequestCache();
  for (let i = 0; i < MAX_PENDING; i++) cache.insert(execReq);
  t.throws(() => cache.insert(execReq), { message: /too many pending/ });
});

test('status: v4/v5 carry a metav1.Status with the exit code; older versions plain text', (t) => {
  t.deepEqual(JSON.parse(statusMessage('v4.channel.k8s.io', 0).toString()), { metadata: {}, status: 'Success' });
  t.deepEqual(JSON.parse(statusMessage('v5.channel.k8s.io', 3).toString()), {
    metadata: {}, status: 'Failure', message: 'command terminated with non-zero exit code: exit status 3', reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  });
  t.is(statusMessage('v2.channel.k8s.io', 0).length, 0);
  t.regex(statusMessage('v3.channel.k8s.io', 2).toString(), /non-zero exit code/);
  t.like(JSON.parse(statusMessage('v4.channel.k8s.io', undefined, 'boom').toString()), { status: 'Failure', message: 'boom' });
});

test('resize: newline-separated JSON sizes, split anywhere; junk ignored', (t) => {
  const got: Array<[number, number]> = [];
  const feed = resizeParser((c, r) => got.push([c, r]));
  feed(Buffer.from('{"Width":80,"Hei'));
  feed(Buffer.from('ght":24}\n{"Width":1'));
  feed(Buffer.from('20,"Height":40}\nnot json\n{"x":1}\n'));
  t.deepEqual(got, [[80, 24], [120, 40]]);
});

test('expected streams follow the request and the protocol version', (t) => {
  const r = { stdin: true, stdout: true, stderr: true, tty: false };
  t.deepEqual([...expectedStreams(r, 'v4.channel.k8s.io')].sort(), ['error', 'stderr', 'stdin', 'stdout']);
  t.deepEqual([...expectedStreams({ ...r, stderr: false, tty: true }, 'v4.channel.k8s.io')].sort(), ['error', 'resize', 'stdin', 'stdout']);
  t.deepEqual([...expectedStreams({ ...r, stderr: false, tty: true }, 'v2.channel.k8s.io')].sort(), ['error', 'stdin', 'stdout']);
});

test('URLs: /<kind>/<token> only; offered protocols split on commas across headers', (t) => {
  t.deepEqual(parsePath('/exec/abcdefghijklmnopqrstuvwxyz0123456789_-AB'), { kind: 'exec', token: 'abcdefghijklmnopqrstuvwxyz0123456789_-AB' });
  t.is(parsePath('/exec/short'), undefined);
  t.is(parsePath('/shell/abcdefghijklmnopqrstuvwxyz0123456789'), undefined);
  t.is(parsePath('/exec/abcdefghijklmnopqrstuvwxyz0123456789/../x'), undefined);
  t.deepEqual(offeredProtocols(['v4.channel.k8s.io, v3.channel.k8s.io', 'channel.k8s.io']), ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'channel.k8s.io']);
  t.deepEqual(offeredProtocols(undefined), []);
});
