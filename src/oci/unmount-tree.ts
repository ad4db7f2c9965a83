// Taking a directory tree down that may hold mounts: a container bundle cut short by a
// crash, a user-namespaced pod's idmapped views. Everything mounted at or beneath it is
// lazily unmounted first (deepest first, found in mountinfo), then the tree is removed
// without following symlinks; removeTree never descends into a mount, so a mount that
// would not go cannot take the host directory it shows with it.
import { promises as fs } from 'node:fs';
import { native } from '../native/index.js';
import { parseMountInfo } from './mounts.js';

/** Lazily unmounts every mount at or beneath `dir`, deepest first; how many there were. */
export async function unmountBeneath(dir: string): Promise<number> {
  const mounts = parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) native.unmount(m);
  return mounts.length;
}

/** Unmounts what is mounted beneath `dir`, then removes it; how many mounts there were. */
export async function unmountAndRemove(dir: string): Promise<number> {
  const n = await unmountBeneath(dir);
  await native.removeTree(dir);
  return n;
}
