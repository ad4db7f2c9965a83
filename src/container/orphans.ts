// Start-up sweep of container bundles that no record owns: a crash between mounting a
// container's rootfs or image volumes and saving its record leaves them behind. Every
// mount beneath such a bundle (found in mountinfo, deepest first) is lazily unmounted,
// then the bundle is removed without following symlinks.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { native } from '../native/index.js';
import { parseMountInfo } from '../oci/mounts.js';

export async function sweepOrphanBundles(containersDir: string, known: Set<string>, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(containersDir);
  } catch {
    return; // no runtime dir yet
  }
  const orphans = names.filter((n) => /^[0-9a-f]{64}$/.test(n) && !known.has(n));
  if (orphans.length === 0) return;
  const mounts = parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint);
  for (const id of orphans) {
    const bundle = path.join(containersDir, id);
    const beneath = mounts.filter((m) => m.startsWith(`${bundle}/`)).sort((a, b) => b.length - a.length);
    try {
      for (const m of beneath) native.unmount(m);
      await native.removeTree(bundle);
      log.warn({ container: id.slice(0, 12), mounts: beneath.length }, 'removed a container bundle no record owns (a create cut short by a crash)');
    } catch (e) {
      log.error({ container: id.slice(0, 12), err: (e as Error).message }, 'cannot remove an orphaned container bundle');
    }
  }
}
