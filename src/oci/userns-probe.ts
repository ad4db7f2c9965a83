// Start-up proof that a runtime handler can run user-namespaced pods here: the probe
// container runs again the way such a pod's containers will — in a user namespace berth
// made and pinned (with net/ipc/uts owned by it), on an idmapped rootfs, joined by path
// — and must see its busybox (owned by host root on disk) owned by its own root. The
// layer store's filesystem must take idmapped mounts too. Whatever fails is the reason
// Status gives for advertising no user namespaces and RunPodSandbox for refusing.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { native } from '../native/index.js';
import { run } from './exec-file.js';
import { makeOwnedDir, openPathToViews, podIdmapDir } from './idmap.js';
import { unmountAndRemove } from './unmount-tree.js';
import type { OciRuntime } from './runtime.js';
import { usernsSpec } from './userns.js';

// Far from the ranges the kubelet hands out (multiples of 65536 from 65536 up): the probe's
// processes live for milliseconds, but they should not share a pod's host ids even then.
const PROBE_MAP = [{ containerId: 0, hostId: 0x7ff00000, length: 65536 }];

export interface UsernsProbeInput {
  runtimeDir: string;
  layersDir: string;
  /** The probe bundle, whose rootfs/ holds busybox. */
  bundle: string;
  /** The probe's spec; its namespaces are replaced by pinned ones. */
  spec: Record<string, unknown>;
}

export async function probeUserns(rt: OciRuntime, p: UsernsProbeInput): Promise<{ ok: boolean; reason?: string }> {
  const id = `${path.basename(p.bundle)}-u`;
  const dir = podIdmapDir(p.runtimeDir, `probe${id.slice(-10)}`);
  const maps = { uids: PROBE_MAP, gids: PROBE_MAP };
  const ubundle = path.join(p.bundle, 'userns');
  try {
    await openPathToViews(p.runtimeDir);
    await makeOwnedDir(dir, PROBE_MAP[0]!.hostId, PROBE_MAP[0]!.hostId);
    const pins = await native.pinUserNamespace(path.join(dir, 'ns'), ['net', 'ipc', 'uts'], 'probe', maps.uids, maps.gids);
    await fs.mkdir(p.layersDir, { recursive: true });
    native.idmapBind(p.layersDir, path.join(dir, 'l'), pins[0]!);
    native.idmapBind(path.join(p.bundle, 'rootfs'), path.join(dir, 'rootfs'), pins[0]!);
    const u = usernsSpec(pins[0]!, maps);
    const linux = p.spec.linux as Record<string, unknown>;
    const spec = {
      ...p.spec,
      process: { ...(p.spec.process as object), args: ['/busybox', 'sh', '-c', 'test "$(/busybox stat -c %u:%g /busybox)" = 0:0'] },
      root: { path: path.join(dir, 'rootfs'), readonly: true },
      // A /dev of its own, as pods' containers have: the first probe left device nodes in the rootfs's.
      mounts: [{ destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'size=64k'] }, ...(p.spec.mounts as object[])],
      linux: {
        ...linux,
        uidMappings: u.uidMappings,
        gidMappings: u.gidMappings,
        namespaces: [u.namespace, { type: 'pid' }, { type: 'mount' }, ...pins.slice(1).map((pin: string) => ({ type: ({ net: 'network' } as Record<string, string>)[path.basename(pin)] ?? path.basename(pin), path: pin }))],
      },
    };
    await fs.mkdir(ubundle, { recursive: true });
    await fs.writeFile(path.join(ubundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
    const r = await run(rt.binary, ['--root', rt.root, 'run', '--bundle', ubundle, id], { timeoutMs: 20_000 });
    if (r.code === 0) return { ok: true };
    const why = r.stderr.toString().trim().split('\n').pop() || (r.code === 1 ? 'busybox is not owned by the container\'s root' : `exit ${r.code}`);
    return { ok: false, reason: `a container in a user namespace on an idmapped rootfs did not run: ${why}` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await run(rt.binary, ['--root', rt.root, 'delete', '--force', id], { timeoutMs: 10_000 }).catch(() => undefined);
    for (const kind of ['user', 'net', 'ipc', 'uts']) native.unpinNamespace(path.join(dir, 'ns', kind));
    await unmountAndRemove(dir).catch(() => undefined);
  }
}
