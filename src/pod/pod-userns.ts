// The idmapped views a user-namespaced pod's containers are made from (src/oci/idmap.ts
// says where and why): the layer store, whose directories overlay then stacks as each
// container's lower layers, and the pod's /dev/shm, resolv.conf, hostname and hosts. One
// set per pod; they go with the pod (unmountAndRemove) or, after a crash, at start-up.
import path from 'node:path';
import { native } from '../native/index.js';
import { hostIdOf, makeOwnedDir, podIdmapDir, type UsernsMaps } from '../oci/idmap.js';
import type { PodRecord } from './pod.js';

export const POD_FILES = ['resolv.conf', 'hostname', 'hosts'] as const;

/** The layer store as the pod's containers see it (lower layers: <view>/<chain id>/diff). */
export const layersView = (runtimeDir: string, podId: string) => path.join(podIdmapDir(runtimeDir, podId), 'l');

/** The host uid and gid of the pod's root (its views and writable layers belong to them). */
export function podRoot(maps: UsernsMaps): { uid: number; gid: number } {
  return { uid: hostIdOf(maps.uids, 0)!, gid: hostIdOf(maps.gids, 0)! };
}

/** Makes the pod's views; the pod's files and /dev/shm must exist. */
export async function makePodViews(pod: PodRecord, runtimeDir: string, layersDir: string): Promise<void> {
  const dir = podIdmapDir(runtimeDir, pod.id);
  const root = podRoot(pod.userns!);
  await makeOwnedDir(dir, root.uid, root.gid);
  const userns = pod.namespaces.user!;
  native.idmapBind(layersDir, layersView(runtimeDir, pod.id), userns);
  for (const f of POD_FILES) native.idmapBind(path.join(pod.filesDir, f), path.join(dir, f), userns);
  if (pod.shm) native.idmapBind(pod.shm, path.join(dir, 'shm'), userns);
}

/** The pod files and /dev/shm a container binds: the views for a user-namespaced pod. */
export function podFileSources(pod: PodRecord, runtimeDir: string): Array<{ destination: string; source: string }> {
  const dir = pod.userns ? podIdmapDir(runtimeDir, pod.id) : pod.filesDir;
  return [
    ...POD_FILES.map((f) => ({ destination: `/etc/${f}`, source: path.join(dir, f) })),
    ...(pod.shm ? [{ destination: '/dev/shm', source: pod.userns ? path.join(dir, 'shm') : pod.shm }] : []),
  ];
}
