// Where a user-namespaced pod's idmapped views live, and how they go away.
//
// berth applies the idmapping itself (runc 1.1.5 and crun 1.8.1 know no OCI 1.1 mount
// uidMappings): each read-only source (the layer store, the pod's /dev/shm and
// resolv.conf/hostname/hosts, CRI host paths) gets an idmapped bind through the pod's user
// namespace under <runtime_dir>/idmap/<pod>/, and runc gets a spec whose rootfs and
// mounts are those views. runc's init makes its mounts as the container's root, i.e. a
// host uid the host's directories do not belong to: every directory on the way to a view
// must be searchable by others. So <runtime_dir> and <runtime_dir>/idmap are 0711 (no
// listing), and each pod's directory belongs to the pod's root and is 0700: no other
// unprivileged uid gets into it (its /dev/shm is world-writable).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { precondition } from '../errors.js';
import { unmountAndRemove } from './unmount-tree.js';

/** One uid/gid range: container_id inside is host_id on the host, for length ids. */
export interface IdRange {
  containerId: number;
  hostId: number;
  length: number;
}
export interface UsernsMaps {
  uids: IdRange[];
  gids: IdRange[];
}

export const idmapRoot = (runtimeDir: string) => path.join(runtimeDir, 'idmap');
/** A pod's views; 16 hex digits keep overlay's lowerdir list short (it must fit in a page). */
export const podIdmapDir = (runtimeDir: string, podId: string) => path.join(idmapRoot(runtimeDir), podId.slice(0, 16));
/** A container's rootfs and host-path views, inside its pod's directory. */
export const containerIdmapDir = (podDir: string, containerId: string) => path.join(podDir, 'c', containerId.slice(0, 16));

/** The host id that container id `id` maps to, if any. */
export function hostIdOf(ranges: IdRange[], id: number): number | undefined {
  const r = ranges.find((m) => id >= m.containerId && id < m.containerId + m.length);
  return r && r.hostId + (id - r.containerId);
}

/**
 * Makes the path to the views searchable by the container's root: <runtime_dir> and its
 * idmap dir get o+x; a directory above <runtime_dir> without it (berth does not own it)
 * is a FAILED_PRECONDITION naming it. berthd's other runtime dirs are 0700 (daemon.ts).
 */
export async function openPathToViews(runtimeDir: string): Promise<void> {
  await fs.mkdir(idmapRoot(runtimeDir), { recursive: true, mode: 0o711 });
  for (const d of [runtimeDir, idmapRoot(runtimeDir)]) {
    const st = await fs.stat(d);
    if (!(st.mode & 0o001)) await fs.chmod(d, (st.mode & 0o7777) | 0o011);
  }
  for (let d = path.dirname(path.resolve(runtimeDir)); ; d = path.dirname(d)) {
    const mode = (await fs.stat(d)).mode;
    if (!(mode & 0o001)) {
      throw precondition(`${d} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')}) is not searchable by others: a user-namespaced container's root, a host uid of its own, must pass it to reach its rootfs under runtime_dir ${runtimeDir}`);
    }
    if (d === '/') break;
  }
}

/** A directory only the host's root and the pod's root (host uid `uid`) enter. */
export async function makeOwnedDir(dir: string, uid: number, gid: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chown(dir, uid, gid);
}

/** Start-up: pod view directories no live pod owns (a crash between steps) are released. */
export async function sweepIdmapDirs(runtimeDir: string, podIds: string[]): Promise<string[]> {
  const owned = new Set(podIds.map((id) => id.slice(0, 16)));
  const names = await fs.readdir(idmapRoot(runtimeDir)).catch(() => [] as string[]);
  const gone = names.filter((n) => !owned.has(n));
  for (const n of gone) await unmountAndRemove(path.join(idmapRoot(runtimeDir), n));
  return gone;
}
