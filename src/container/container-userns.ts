// A user-namespaced pod's container (src/oci/idmap.ts says how the views work): its CRI
// host paths become idmapped views in the container's view directory, so a host file of
// uid N is the container's uid N; the spec binds the views instead of the host paths.
import path from 'node:path';
import { precondition } from '../errors.js';
import { type ContainerConfig, MountPropagation } from '../gen/runtime/v1/api.js';
import { native } from '../native/index.js';
import { isImageMount } from '../oci/mounts.js';

/**
 * Checked before anything is made: open_tree(OPEN_TREE_CLONE) makes a private copy, so
 * host mounts would never reach a view, nor the container's mounts the host.
 */
export function refusePropagation(cfg: ContainerConfig): void {
  for (const m of cfg.mounts) {
    if (!isImageMount(m) && m.propagation !== MountPropagation.PROPAGATION_PRIVATE) {
      throw precondition(`mount ${m.hostPath} (${MountPropagation[m.propagation]}): a pod in its own user namespace sees host paths through idmapped copies, which receive no mount propagation`);
    }
  }
}

/** A copy of `cfg` whose host-path mounts name their views (made here, beneath `dir`). */
export function hostPathViews(cfg: ContainerConfig, dir: string, userns: string): ContainerConfig {
  const mounts = cfg.mounts.map((m, i) => {
    if (isImageMount(m)) return m; // an overlay of the pod's idmapped layer view already
    const view = path.join(dir, `m${i}`);
    try {
      native.idmapBind(m.hostPath, view, userns);
    } catch (e) {
      throw precondition(`mount ${m.hostPath} -> ${m.containerPath}: cannot be idmapped into the pod's user namespace: ${(e as Error).message}`);
    }
    return { ...m, hostPath: view };
  });
  return { ...cfg, mounts };
}
