// Host devices for the OCI spec: the CRI `devices` (a device node, or a directory of
// them, on the host) and, for privileged containers, every device under the host's /dev
// (as Docker and containerd give them). Each is stat'ed here; the spec only carries
// numbers and modes.
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { invalid } from '../errors.js';
import type { ContainerConfig } from '../gen/runtime/v1/api.js';
import { checkPermissions, type HostDevice } from '../oci/resources.js';

/** /dev entries that are mounts of their own in a container, or runtime bookkeeping. */
const SKIP = new Set(['pts', 'shm', 'fd', 'mqueue', 'console', 'ptmx']);

function device(st: Stats, containerPath: string, access: string): HostDevice | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  // st.rdev: the kernel's new_encode_dev layout.
  const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
  const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
  return { path: containerPath, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid, access };
}

/** Every device node beneath `dir` (symlinks not followed), mapped beneath `dest`. */
async function walk(dir: string, dest: string, access: string, skip: Set<string>, out: HostDevice[]): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (skip.has(e.name) || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, path.join(dest, e.name), access, new Set(), out);
    else if (e.isCharacterDevice() || e.isBlockDevice()) {
      const d = device(await fs.lstat(p), path.join(dest, e.name), access);
      if (d) out.push(d);
    }
  }
}

export async function resolveDevices(cfg: ContainerConfig): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  if (cfg.linux?.securityContext?.privileged) await walk('/dev', '/dev', 'rwm', SKIP, out);
  for (const [i, d] of cfg.devices.entries()) {
    const field = `devices[${i}]`;
    const access = checkPermissions(`${field}.permissions`, d.permissions);
    if (!path.isAbsolute(d.hostPath) || !path.isAbsolute(d.containerPath)) throw invalid(`${field}: host_path and container_path must be absolute`);
    let st: Stats;
    try {
      st = await fs.stat(d.hostPath);
    } catch (e) {
      throw invalid(`${field}: host device ${d.hostPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (st.isDirectory()) {
      await walk(d.hostPath, d.containerPath, access, new Set(), out);
      continue;
    }
    const dev = device(st, d.containerPath, access);
    if (!dev) throw invalid(`${field}: ${d.hostPath} is not a character or block device`);
    out.push(dev);
  }
  // A later entry for the same container path wins (a CRI device over a privileged one).
  return [...new Map(out.map((d) => [d.path, d])).values()];
}
