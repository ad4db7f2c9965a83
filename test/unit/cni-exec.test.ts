import test from 'ava';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CniPluginError, execPlugin, findPlugin, kindForCode } from '../../src/cni/exec.js';
import { BerthError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cniexec-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in plugin script (test-only) printing `out` and exiting with `code`. */
function plugin(name: string, body: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
}

test('spec error codes map to gRPC kinds', (t) => {
  t.is(kindForCode(11), 'Unavailable');
  t.is(kindForCode(50), 'Unavailable');
  t.is(kindForCode(7), 'FailedPrecondition');
  t.is(kindForCode(1), 'FailedPrecondition');
  t.is(kindForCode(999), 'Internal');
  t.is(kindForCode(undefined), 'Internal');
});

test('findPlugin: first dir that has it; a missing one or a path is refused by name', (t) => {
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
  writeFileSync(path.join(b, 'p1'), '');
  t.is(findPlugin('p1', [a, b]), path.join(b, 'p1'));
  t.throws(() => findPlugin('p2', [a, b]), { message: `CNI plugin p2 not found in ${a}:${b}` });
  const e = t.throws(() => findPlugin('../p1', [a]));
  t.true(e instanceof BerthError && e.kind === 'FailedPrecondition');
});

const req = { command: 'ADD' as const, stdin: { cniVersion: '1.0.0' }, pluginDirs: [dir], timeoutMs: 5000, containerId: 'c1', netns: '/x', ifName: 'eth0', what: 'ADD t for pod c1' };

test('the spec environment and stdin reach the plugin; its JSON result comes back', async (t) => {
  const bin = plugin('echoenv', 'cfg=$(cat); printf \'{"cmd":"%s","id":"%s","ns":"%s","if":"%s","args":"%s","path":"%s","cfg":%s}\' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH" "$cfg"');
  const out = await execPlugin({ ...req, bin, args: [['K8S_POD_NAME', 'p'], ['K8S_POD_UID', 'u']] });
  t.deepEqual(out, { cmd: 'ADD', id: 'c1', ns: '/x', if: 'eth0', args: 'K8S_POD_NAME=p;K8S_POD_UID=u', path: dir, cfg: { cniVersion: '1.0.0' } });
});

test('a spec error object keeps its code, message and details', async (t) => {
  const bin = plugin('fails', 'echo \'{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"no bridge"}\'; exit 1');
  const e = await t.throwsAsync(execPlugin({ ...req, bin }));
  t.true(e instanceof CniPluginError);
  const p = e as CniPluginError;
  t.is(p.kind, 'FailedPrecondition');
  t.is(p.code, 7);
  t.is(p.msg, 'bad config');
  t.is(p.details, 'no bridge');
  t.is(p.message, 'CNI ADD t for pod c1: plugin fails failed: code 7: bad config (no bridge)');
});

test('a plugin that prints no error object is reported with its stderr; non-JSON output is refused', async (t) => {
  await t.throwsAsync(execPlugin({ ...req, bin: plugin('crash', 'echo boom >&2; exit 2') }), { message: /plugin crash failed: boom/ });
  await t.throwsAsync(execPlugin({ ...req, bin: plugin('garbage', 'echo not-json') }), { message: /printed something that is not JSON: not-json/ });
  t.is(await execPlugin({ ...req, bin: plugin('silent', 'exit 0') }), undefined);
});

test('a plugin past its time limit is killed: DEADLINE_EXCEEDED', async (t) => {
  const started = Date.now();
  const e = await t.throwsAsync(execPlugin({ ...req, bin: plugin('slow', 'exec sleep 30'), timeoutMs: 300 }));
  t.true(e instanceof BerthError && e.kind === 'DeadlineExceeded');
  t.regex(e!.message, /did not answer within 300 ms and was killed/);
  t.true(Date.now() - started < 5000);
});
