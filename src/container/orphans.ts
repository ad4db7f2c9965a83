// Start-up sweep of container bundles that no record owns: a crash between mounting a
// container's rootfs or image volumes and saving its record leaves them behind; each is
// taken down with what is mounted beneath it (oci/unmount-tree.ts).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { unmountAndRemove } from '../oci/unmount-tree.js';
import { isObjectId } from '../store/records.js';

export async function sweepOrphanBundles(containersDir: string, known: Set<string>, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(containersDir);
  } catch {
    return; // no runtime dir yet
  }
  const orphans = names.filter((n) => isObjectId(n) && !known.has(n));
  if (orphans.length === 0) return;
  for (const id of orphans) {
    try {
      const mounts = await unmountAndRemove(path.join(containersDir, id));
      log.warn({ container: id.slice(0, 12), mounts }, 'removed a container bundle no record owns (a create cut short by a crash)');
    } catch (e) {
      log.error({ container: id.slice(0, 12), err: (e as Error).message }, 'cannot remove an orphaned container bundle');
    }
  }
}
