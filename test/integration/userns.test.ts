// Pod user namespaces with the host's runtimes (runc 1.1.5 here; crun 1.8.1 cannot run
// under this host's hybrid cgroups, so it is probed and not listed): berth makes the
// namespace and the idmapped views, the runtime only joins. A pod mapped 0 → 100000
// (65536 ids) sees its image and a host directory owned by its root, runs as host uid
// 100000, and leaves nothing behind — after a removal and after a kill -9 of berthd.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MountPropagation, NamespaceMode } from '../../src/gen/runtime/v1/api.js';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';
import { layersOf, pushImage } from '../helpers/push.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

const map = [{ hostId: 100000, containerId: 0, length: 65536 }];
const usernsOptions = { mode: NamespaceMode.POD, uids: map, gids: map };
const withUserns = (name: string, u: Record<string, unknown> = usernsOptions, ns: Record<string, unknown> = {}) =>
  podConfig(name, { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions: u, ...ns } } } });
const code = (e: unknown) => (e as { code?: number }).code;
const sh = async (containerId: string, script: string) => {
  const r = await inst.rt.execSync({ containerId, cmd: ['sh', '-c', script], timeout: 10n });
  return { out: Buffer.from(r.stdout).toString().trim(), err: Buffer.from(r.stderr).toString().trim(), code: r.exitCode };
};

/** A host directory with a root-owned file, for the pod to bind. */
function hostDir(name: string): string {
  const d = path.join(inst.dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, 'f'), 'from the host\n');
  return d;
}

async function runPod(name: string, data: string) {
  const podCfg = withUserns(name);
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const cfg = containerConfig('c', busybox, ['sleep', '1000'], {
    mounts: [{ containerPath: '/data', hostPath: data }],
    linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions } } },
  });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: cfg });
  await inst.rt.startContainer({ containerId });
  return { podSandboxId, containerId };
}

test.serial('Status advertises user namespaces for runc, which the start-up probe ran one with', async (t) => {
  const s = await inst.rt.status({});
  const runc = s.runtimeHandlers.find((h) => h.name === 'runc');
  t.true(runc?.features?.userNamespaces);
  t.true(s.runtimeHandlers.find((h) => h.name === '')?.features?.userNamespaces, 'the default handler is runc');
});

test.serial('a pod in its own user namespace: mapped ids, image and host files owned by its root, host uid 100000', async (t) => {
  const data = hostDir('data-1');
  const { podSandboxId, containerId } = await runPod('userns', data);
  t.regex((await sh(containerId, 'cat /proc/self/uid_map')).out, /^0\s+100000\s+65536$/);
  t.regex((await sh(containerId, 'cat /proc/self/gid_map')).out, /^0\s+100000\s+65536$/);
  // The image's files are owned by host root on disk and by the pod's root inside.
  t.is((await sh(containerId, 'stat -c %u:%g /bin/busybox / /etc/hosts /etc/resolv.conf /etc/hostname /dev/shm')).out.split('\n').join(' '), '0:0 0:0 0:0 0:0 0:0 0:0');
  t.is((await sh(containerId, 'id -u; hostname')).out, '0\nuserns');
  // The host directory: readable, writable, its root-owned file the pod root's own; what the pod writes is host root's on disk.
  t.is((await sh(containerId, 'cat /data/f; stat -c %u /data/f; echo new > /data/new && echo written')).out, 'from the host\n0\nwritten');
  t.is(statSync(path.join(data, 'new')).uid, 0);
  // The writable layer and /dev/shm take writes too; a new file is the container root's.
  t.is((await sh(containerId, 'touch /newfile /dev/shm/x && stat -c %u /newfile')).out, '0');
  // On the host the process runs as 100000, in a user namespace other than the host's.
  const info = JSON.parse((await inst.rt.containerStatus({ containerId, verbose: true })).info.info!) as { pid: number };
  const st = readFileSync(`/proc/${info.pid}/status`, 'utf8');
  t.regex(st, /^Uid:\s+100000\s+100000\s+100000\s+100000$/m);
  t.regex(st, /^Gid:\s+100000\s+100000\s+100000\s+100000$/m);
  t.not(statSync(`/proc/${info.pid}/ns/user`).ino, statSync('/proc/self/ns/user').ino);
  // /sys and /dev/mqueue mount and net sysctls are readable: the pod's user namespace owns its net and ipc namespaces.
  t.is((await sh(containerId, 'ls /sys/class/net | grep -c eth0; cat /proc/sys/net/ipv4/ip_forward >/dev/null && echo ok')).out, '1\nok');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('image VOLUMEs in a user-namespaced pod: the volume and the parents made for it are the pod root\'s', async (t) => {
  const image = await pushImage('userns-volumes', { layers: await layersOf('busybox', 'latest'), config: { Volumes: { '/srv/app/data': {}, '/var/cache/vol': {} } } });
  await inst.img.pullImage({ image: { image } });
  const podCfg = withUserns('userns-vols');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const cfg = containerConfig('c', image, ['sleep', '1000'], { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions } } } });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: cfg });
  await inst.rt.startContainer({ containerId });
  // /srv, /srv/app and /var/cache are made for the volumes (busybox has /var only): all owned by the pod's root, who can write there.
  t.is((await sh(containerId, 'stat -c %u:%g /srv /srv/app /srv/app/data /var /var/cache /var/cache/vol')).out.split('\n').join(' '), '0:0 0:0 0:0 0:0 0:0 0:0');
  t.is((await sh(containerId, 'touch /srv/app/x /srv/app/data/y /var/cache/vol/z && echo ok')).out, 'ok');
  await inst.rt.removePodSandbox({ podSandboxId });
  await inst.img.removeImage({ image: { image } });
  t.deepEqual(inst.leaks(), []);
});

test.serial('after kill -9 of berthd, the user-namespaced pod is still there and goes without leaks', async (t) => {
  const { podSandboxId, containerId } = await runPod('userns-restart', hostDir('data-2'));
  await inst.restart(true);
  t.is((await sh(containerId, 'stat -c %u /bin/busybox')).out, '0');
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('refused with the reason: host namespaces beside a user namespace, propagation into idmapped copies', async (t) => {
  const e1 = await t.throwsAsync(inst.rt.runPodSandbox({ config: withUserns('hostnet', usernsOptions, { network: NamespaceMode.NODE }) }));
  t.is(code(e1), status.INVALID_ARGUMENT);
  t.regex(e1!.message, /cannot use the host's network namespace/);
  const podCfg = withUserns('prop');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const cfg = containerConfig('c', busybox, ['sleep', '1000'], {
    mounts: [{ containerPath: '/data', hostPath: hostDir('data-3'), propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER }],
  });
  const e2 = await t.throwsAsync(inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: cfg }));
  t.is(code(e2), status.FAILED_PRECONDITION);
  t.regex(e2!.message, /idmapped copies, which receive no mount propagation/);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('per-mount uid/gid mappings: the pod\'s own are honoured, others are INVALID_ARGUMENT, nothing left behind', async (t) => {
  const data = hostDir('data-4');
  const podCfg = withUserns('mount-maps');
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const ns = { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions } } } };
  const withMaps = (uidMappings: unknown[], gidMappings: unknown[]) =>
    containerConfig('c', busybox, ['sleep', '1000'], { ...ns, mounts: [{ containerPath: '/data', hostPath: data, uidMappings, gidMappings }] });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: withMaps(map, map) });
  await inst.rt.startContainer({ containerId });
  t.is((await sh(containerId, 'stat -c %u /data/f')).out, '0', 'the host root-owned file is the pod root\'s');
  const other = [{ hostId: 300000, containerId: 0, length: 65536 }];
  for (const [u, g] of [[other, map], [map, other], [map, []]] as const) {
    const e = await t.throwsAsync(inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: withMaps([...u], [...g]) }));
    t.is(code(e), status.INVALID_ARGUMENT);
    t.regex(e!.message, /mounts\[0\] \(\/data\): uid\/gid mappings other than the pod sandbox's are not supported/);
  }
  await inst.rt.removePodSandbox({ podSandboxId });
  // A pod in the host's user namespace: mappings on a mount are refused too.
  const plain = podConfig('mount-maps-host');
  const p2 = await inst.rt.runPodSandbox({ config: plain });
  const e = await t.throwsAsync(inst.rt.createContainer({
    podSandboxId: p2.podSandboxId, sandboxConfig: plain,
    config: containerConfig('c', busybox, ['true'], { mounts: [{ containerPath: '/data', hostPath: data, uidMappings: map, gidMappings: map }] }),
  }));
  t.is(code(e), status.INVALID_ARGUMENT);
  t.regex(e!.message, /mounts\[0\] \(\/data\): uid\/gid mappings on a mount are supported only in a pod with its own user namespace/);
  await inst.rt.removePodSandbox({ podSandboxId: p2.podSandboxId });
  t.deepEqual(inst.leaks(), []);
});

test.serial('userns_options that break the CRI rules are INVALID_ARGUMENT naming the field', async (t) => {
  for (const [opts, re] of [
    [{ mode: NamespaceMode.CONTAINER }, /userns_options\.mode CONTAINER: a user namespace is POD or NODE only/],
    [{ mode: NamespaceMode.NODE, uids: map, gids: map }, /userns_options: mode NODE .* takes no uid\/gid mappings/],
    [{ mode: NamespaceMode.POD }, /userns_options: mode POD needs uid and gid mappings/],
    [{ mode: NamespaceMode.POD, uids: [{ hostId: 100000, containerId: 1, length: 10 }], gids: map }, /uids: container id 0 \(root\) must be mapped/],
  ] as const) {
    const e = await t.throwsAsync(inst.rt.runPodSandbox({ config: withUserns('bad', opts) }));
    t.is(code(e), status.INVALID_ARGUMENT);
    t.regex(e!.message, re);
  }
  t.deepEqual(inst.leaks(), []);
});

test.serial('the host user namespace (NODE, what hostUsers=true pods send) runs; a container asking for POD there is refused', async (t) => {
  const podCfg = withUserns('hostusers', { mode: NamespaceMode.NODE });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podCfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: containerConfig('c', busybox, ['sleep', '1000']) });
  await inst.rt.startContainer({ containerId });
  t.is((await sh(containerId, 'cat /proc/self/uid_map')).out.split(/\s+/).join(' '), '0 0 4294967295');
  const e = await t.throwsAsync(inst.rt.createContainer({ podSandboxId, sandboxConfig: podCfg, config: containerConfig('u', busybox, ['sleep', '1000'], { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD, usernsOptions } } } }) }));
  t.is(code(e), status.INVALID_ARGUMENT);
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
