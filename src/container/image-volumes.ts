// Image volumes (KEP-4639): a CRI mount whose `image` names a pulled image is that
// image's filesystem, mounted read-only into the container. Each is a read-only overlay
// of the image's layers under the container's bundle (<bundle>/imagevols/<n>); the
// container gets a read-only bind of it, or of its `image_sub_path`. The overlay has no
// upper layer, so nothing can change beneath it: the sub path, checked once without
// following symlinks, stays what it was when the runtime binds it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { invalid, notFound } from '../errors.js';
import type { ContainerConfig } from '../gen/runtime/v1/api.js';
import type { ImageService } from '../image/image-service.js';
import { native } from '../native/index.js';
import { isImageMount } from '../oci/mounts.js';

export interface ImageVolume {
  containerPath: string;
  /** The image's ID (config digest): what ContainerStatus reports as the mount's image_ref. */
  imageId: string;
  /** The read-only overlay. */
  dir: string;
}

const volumesDir = (bundle: string) => path.join(bundle, 'imagevols');

/**
 * Where volumes go and where their layers are read from: by default the bundle and the
 * layer store; for a user-namespaced pod, the container's view directory and the pod's
 * idmapped layer view (src/oci/idmap.ts).
 */
export interface VolumePlace {
  dir: string;
  layerDiff: (chainId: string) => string;
}

/**
 * Mounts every image volume of `cfg` under `bundle`. Returns what was mounted (for the
 * record, so removal unmounts it) and the host source of each container path for the
 * spec. On error, whatever was mounted is unmounted again before the error is thrown.
 */
export async function mountImageVolumes(
  cfg: ContainerConfig,
  bundle: string,
  images: ImageService,
  place?: VolumePlace,
): Promise<{ volumes: ImageVolume[]; sources: Record<string, string> }> {
  const base = place?.dir ?? volumesDir(bundle);
  const diff = place?.layerDiff ?? ((chainId: string) => path.join(images.store.layerDir(chainId), 'diff'));
  const volumes: ImageVolume[] = [];
  const sources: Record<string, string> = {};
  const wanted = cfg.mounts.filter(isImageMount);
  if (wanted.length === 0) return { volumes, sources };
  try {
    const empty = path.join(base, 'empty');
    await fs.mkdir(empty, { recursive: true });
    for (const [i, m] of wanted.entries()) {
      const ref = m.image!.image;
      const image = images.find(ref);
      if (!image) throw notFound(`image volume ${m.containerPath}: image ${ref} not found: pull it first`);
      const dir = path.join(base, String(i));
      await fs.mkdir(dir);
      const lowers = image.layers.map((l) => diff(l.chainId)).reverse();
      // overlayfs wants two lower layers when there is no upper one: an empty one pads.
      while (lowers.length < 2) lowers.push(empty);
      await native.mountOverlayReadonly(lowers, dir);
      volumes.push({ containerPath: m.containerPath, imageId: image.id, dir });
      sources[m.containerPath] = m.imageSubPath ? subPathSource(dir, m.containerPath, m.imageSubPath) : dir;
    }
    return { volumes, sources };
  } catch (e) {
    unmountImageVolumes(volumes);
    throw e;
  }
}

/** The sub path inside the volume: it must exist and be reached without any symlink. */
function subPathSource(dir: string, containerPath: string, sub: string): string {
  const rel = path.normalize(sub).replace(/^\/+/, '');
  let kind: string | null;
  try {
    kind = native.kindBeneath(dir, rel);
  } catch (e) {
    throw invalid(`image volume ${containerPath}: image_sub_path ${JSON.stringify(sub)} cannot be reached without following a symlink (${(e as Error).message.replace(dir, '<image>')})`);
  }
  if (kind === null) throw invalid(`image volume ${containerPath}: image_sub_path ${JSON.stringify(sub)} does not exist in the image`);
  if (kind !== 'dir' && kind !== 'file') throw invalid(`image volume ${containerPath}: image_sub_path ${JSON.stringify(sub)} is a ${kind}, not a directory or file`);
  return path.join(dir, rel);
}

/** Unmounts (lazily, idempotently) what mountImageVolumes mounted. */
export function unmountImageVolumes(volumes: ImageVolume[] | undefined): void {
  for (const v of volumes ?? []) native.unmount(v.dir);
}
