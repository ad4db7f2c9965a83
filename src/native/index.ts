// The one TS↔Rust boundary: the generated napi loader (native/binding/index.js, typed
// by the generated index.d.ts) plus where the berth-monitor binary lives. Nothing else
// in berthd imports native code directly.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Binding from '../../native/binding/index.js';

/** The package root: the nearest ancestor holding native/binding. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'native', 'binding', 'index.js'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('berth: cannot find native/binding (run `npm run build:native`)');
    dir = up;
  }
  return dir;
}

export const root = packageRoot();
// The generated loader is ESM; import it by absolute URL so dist/ and src/ both work.
export const native: typeof Binding = await import(pathToFileURL(path.join(root, 'native', 'binding', 'index.js')).href);

const platformDir = `${process.platform}-${process.arch}-gnu`;

/** berth-monitor: the workspace build, else the per-platform prebuilt package beside the addon. */
export function monitorPath(): string {
  const candidates = [
    process.env.BERTH_MONITOR ?? '',
    path.join(root, 'target', 'release', 'berth-monitor'),
    path.join(root, 'npm', platformDir, 'berth-monitor'),
    path.join(root, 'node_modules', '@berth', `native-${platformDir}`, 'berth-monitor'),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`berth: berth-monitor not found (looked in ${candidates.join(', ')}); run \`npm run build:native\``);
  return found;
}

export type ExtractedLayer = Binding.ExtractedLayer;
export type CgroupInfo = Binding.CgroupInfo;
