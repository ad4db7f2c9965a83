// Pod user namespaces with the host's runtimes: Debian 12's runc 1.1.5 has no idmapped
// mounts (its `runc features` lists no linux.mountExtensions.idmap), so a pod asking for
// its own user namespace is refused with that reason, nothing is made, and Status
// advertises user namespaces for no handler. The host's own user namespace (NODE) runs.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { NamespaceMode } from '../../src/gen/runtime/v1/api.js';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

const map = [{ hostId: 100000, containerId: 0, length: 65536 }];
const withUserns = (name: string, usernsOptions: Record<string, unknown>) => podConfig(name, { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions } } } });
const code = (e: unknown) => (e as { code?: number }).code;

test.serial('this host\'s runc has no idmapped mounts (else this file must test user namespaces that work)', (t) => {
  const features = JSON.parse(execFileSync('runc', ['features'], { encoding: 'utf8' })) as { linux?: { mountExtensions?: { idmap?: { enabled?: boolean } } } };
  t.not(features.linux?.mountExtensions?.idmap?.enabled, true);
});

test.serial('a pod asking for its own user namespace is FAILED_PRECONDITION naming the missing idmapped mounts; nothing is made', async (t) => {
  const e = await t.throwsAsync(inst.rt.runPodSandbox({ config: withUserns('userns', { mode: NamespaceMode.POD, uids: map, gids: map }) }));
  t.is(code(e), status.FAILED_PRECONDITION);
  t.regex(e!.message, /runtime handler runc \(runc version 1\.1\.5.*\) cannot run pods in a user namespace: it has no idmapped mounts \(`features` lists no linux\.mountExtensions\.idmap\)/);
  t.deepEqual((await inst.rt.listPodSandbox({})).items, []);
  t.deepEqual(inst.leaks(), []);
});

test.serial('userns_options that break the CRI rules are INVALID_ARGUMENT naming the field', async (t) => {
  for (const [opts, re] of [
    [{ mode: NamespaceMode.CONTAINER }, /userns_options\.mode CONTAINER: a user namespace is POD or NODE only/],
    [{ mode: NamespaceMode.NODE, uids: map, gids: map }, /userns_options: mode NODE .* takes no uid\/gid mappings/],
    [{ mode: NamespaceMode.POD }, /userns_options: mode POD needs uid and gid mappings/],
  ] as const) {
    const e = await t.throwsAsync(inst.rt.runPodSandbox({ config: withUserns('bad', opts) }));
    t.is(code(e), status.INVALID_ARGUMENT);
    t.regex(e!.message, re);
  }
  t.deepEqual(inst.leaks(), []);
});

test.serial('the host user namespace (NODE, what hostUsers=true pods send) runs; a container asking for POD is refused', async (t) => {
  const podCfg = withUserns('hostusers', { mode: NamespaceMode.NODE });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: containerConfig('c', busybox, ['sleep', '1000'], { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions: { mode: NamespaceMode.NODE } } } } }) });
  await inst.rt.startContainer({ containerId });
  const self = execFileSync('readlink', ['/proc/self/ns/user'], { encoding: 'utf8' }).trim();
  const r = await inst.rt.execSync({ containerId, cmd: ['readlink', '/proc/self/ns/user'], timeout: 10n });
  t.is(Buffer.from(r.stdout).toString().trim(), self);
  const e = await t.throwsAsync(inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: containerConfig('u', busybox, ['sleep', '1000'], { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions: { mode: NamespaceMode.POD, uids: map, gids: map } } } } }) }));
  t.is(code(e), status.FAILED_PRECONDITION);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('Status advertises user namespaces for no runtime handler', async (t) => {
  const s = await inst.rt.status({});
  t.true(s.runtimeHandlers.length > 0);
  for (const h of s.runtimeHandlers) t.false(h.features?.userNamespaces, h.name);
});
