// Bytes and inodes under a directory (like `du -s --apparent-size`, counting each inode once).
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      const st = await fs.lstat(p).catch(() => undefined);
      if (!st) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inodes++;
      bytes += st.blocks * 512;
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

const cache = new Map<string, { at: number; value: Promise<{ bytes: number; inodes: number }> }>();

/**
 * diskUsage, remembered for `ttlMs`: the kubelet asks for ImageFsInfo every few seconds,
 * and walking a large layer store each time would cost more than the answer is worth.
 */
export function diskUsageCached(dir: string, ttlMs = 10_000): Promise<{ bytes: number; inodes: number }> {
  const hit = cache.get(dir);
  if (hit && Date.now() - hit.at < ttlMs) return hit.value;
  const value = diskUsage(dir);
  cache.set(dir, { at: Date.now(), value });
  value.catch(() => cache.delete(dir));
  return value;
}
