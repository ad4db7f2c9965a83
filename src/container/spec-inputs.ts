// What the OCI spec needs beyond the CRI config and the image config, each gathered with
// the I/O it takes: the identity (from the image's own /etc/passwd and /etc/group), the
// seccomp profile (a Localhost file), the host-side propagation check (mountinfo) and
// the image volumes (mounted here). Kept out of container-service.ts so CreateContainer
// stays one readable sequence.
import { existsSync, lchownSync, promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import { invalid, precondition } from '../errors.js';
import type { ContainerConfig } from '../gen/runtime/v1/api.js';
import type { ImageService } from '../image/image-service.js';
import { native } from '../native/index.js';
import type { ImageConfig } from '../oci/image-config.js';
import { hostLsm, lsmFor } from '../oci/lsm.js';
import { checkPropagation } from '../oci/mounts.js';
import { type OciSeccomp, seccompFor } from '../oci/seccomp.js';
import { type HostDevice } from '../oci/resources.js';
import { capabilities } from '../oci/spec.js';
import { type ProcessUser, readIdentityFiles, resolveUser } from '../oci/users.js';
import { resolveDevices } from './devices.js';
import { type ImageVolume, mountImageVolumes, type VolumePlace } from './image-volumes.js';

export interface SpecInputs {
  user: ProcessUser;
  seccomp?: OciSeccomp;
  imageVolumes: Record<string, string>;
  devices: HostDevice[];
  lsm: { apparmorProfile?: string; selinuxLabel?: string };
  /** Mounted: the caller records them and unmounts them on failure or removal. */
  volumes: ImageVolume[];
}

/** Which LSMs the node runs: read once. */
let lsmOnHost: ReturnType<typeof hostLsm> | undefined;

function resolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p; // missing: the runtime reports it when it binds
  }
}

/** Checks and resolutions that need no mounts first; image volumes are mounted last. */
export async function gatherSpecInputs(
  cfg: ContainerConfig,
  image: ImageConfig,
  rootfs: string,
  bundle: string,
  deps: { images: ImageService; boundingCaps: string[]; volumes?: VolumePlace; owner?: { uid: number; gid: number } },
): Promise<SpecInputs> {
  const lsm = lsmFor(cfg.linux?.securityContext, (lsmOnHost ??= hostLsm()));
  // The runtime binds them only at StartContainer; a source that is not there is the
  // request's fault, told at CreateContainer as `runc create` used to.
  for (const m of cfg.mounts) {
    if (m.hostPath && !m.image?.image && !existsSync(m.hostPath)) throw invalid(`mount ${m.containerPath}: host path ${JSON.stringify(m.hostPath)} does not exist`);
  }
  await checkPropagation(cfg, () => fs.readFile('/proc/self/mountinfo', 'utf8'), resolved);
  const seccomp = await seccompFor(cfg.linux?.securityContext, capabilities(cfg, deps.boundingCaps));
  const devices = await resolveDevices(cfg);
  makeImageVolumeDirs(cfg, image, rootfs, deps.owner);
  const user = resolveUser(cfg, image.User, await readIdentityFiles(rootfs));
  const { volumes, sources } = await mountImageVolumes(cfg, bundle, deps.images, deps.volumes);
  return { user, seccomp, imageVolumes: sources, devices, lsm, volumes };
}

/**
 * The image's VOLUMEs that no CRI mount covers become plain directories in the
 * container's writable layer (CRI-O's "mkdir" mode): created beneath the rootfs without
 * following a symlink, so an image cannot point one at the host. In a user-namespaced
 * pod the volume, and each parent directory made for it, belongs to the pod's root
 * (`owner`), as the image meant it: berth makes them as host root, which the pod's user
 * namespace does not map (they would show as nobody's, and root could not write there).
 */
function makeImageVolumeDirs(cfg: ContainerConfig, image: ImageConfig, rootfs: string, owner?: { uid: number; gid: number }): void {
  const mounted = new Set(cfg.mounts.map((m) => path.normalize(m.containerPath)));
  for (const v of Object.keys(image.Volumes ?? {})) {
    const dest = path.posix.normalize(`/${v}`);
    if (dest === '/' || mounted.has(dest)) continue;
    try {
      const parts = dest.slice(1).split('/');
      const prefix = (n: number) => parts.slice(0, n).join('/');
      // The first component that does not exist yet: from there on, berth makes them.
      let made = 1;
      while (made <= parts.length && native.kindBeneath(rootfs, prefix(made)) !== null) made++;
      native.mkdirBeneath(rootfs, dest.slice(1));
      // lchown: the paths were just made without symlinks, and nothing runs in the rootfs yet.
      if (owner) {
        for (let n = Math.min(made, parts.length); n <= parts.length; n++) lchownSync(path.join(rootfs, prefix(n)), owner.uid, owner.gid);
      }
    } catch (e) {
      throw invalid(`image VOLUME ${JSON.stringify(v)} cannot be created in the container: ${(e as Error).message}`);
    }
  }
}

/**
 * The log file is created by berth-monitor at StartContainer, beneath its root and never
 * through a symlink (it checks again then); a symlink planted at the path or on its way is
 * refused here already, so CreateContainer says so, as it did when the monitor ran then.
 */
export function checkLogPath(root: string, rel: string): void {
  let kind: string | null;
  try {
    kind = native.kindBeneath(root, rel);
  } catch (e) {
    throw precondition(`log path ${JSON.stringify(rel)} beneath ${root}: ${(e as Error).message} (a symlink on the way is not followed)`);
  }
  if (kind !== null && kind !== 'file') throw precondition(`log path ${JSON.stringify(rel)} beneath ${root} is a ${kind}, not a regular file (a symlink is not followed)`);
}
