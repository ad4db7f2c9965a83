// Bytes and inodes under a directory (like `du -s`, each inode counted once). The walk runs
// in the native core on the libuv pool: no per-file work on the event loop, and memory
// that does not grow with the entry count.
import { existsSync } from 'node:fs';
import { native } from '../native/index.js';

/** A directory not made yet holds nothing. */
export async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  if (!existsSync(dir)) return { bytes: 0, inodes: 0 };
  return native.diskUsage(dir);
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
