// The one TS↔Rust boundary: the napi addon (typed by the generated
// native/binding/index.d.ts) plus where the berth-monitor binary lives. Nothing else
// in berthd imports native code directly.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Binding from '../../native/binding/index.js';

/** The package root: the nearest ancestor whose package.json is berth's (a checkout or an install). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'berth') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('berth: cannot find its package.json above the running module');
    dir = up;
  }
}

export const root = packageRoot();
const platformDir = `${process.platform}-${process.arch}-gnu`;

/** The first candidate that exists, or an error saying where it looked. */
function locate(what: string, candidates: Array<string | undefined>): string {
  const paths = candidates.filter((c): c is string => !!c);
  const found = paths.find((c) => existsSync(c));
  if (!found) throw new Error(`berth: ${what} not found (looked in ${paths.join(', ')}); run \`npm run build:native\``);
  return found;
}

/** The installed prebuilt package (@berth/native-<platform>), wherever npm put it. */
function prebuiltDir(): string | undefined {
  try {
    return path.dirname(createRequire(import.meta.url).resolve(`@berth/native-${platformDir}/package.json`));
  } catch {
    return undefined;
  }
}
const prebuilt = prebuiltDir();

/** Where a per-platform artifact may be: the workspace build, else the prebuilt package. */
function artifact(what: string, override: string | undefined, workspaceBuild: string, file: string): string {
  return locate(what, [
    override,
    workspaceBuild,
    path.join(root, 'npm', platformDir, file),
    prebuilt && path.join(prebuilt, file),
  ]);
}

// Only linux-gnu builds exist, so this is the whole loader (napi-rs's generated
// all-platforms index.js is not built).
const addonFile = `berth-native.${platformDir}.node`;
export const native = createRequire(import.meta.url)(
  artifact('the native addon', process.env.BERTH_NATIVE_ADDON, path.join(root, 'native', 'binding', addonFile), addonFile),
) as typeof Binding;

/** berth-monitor, found like the addon (and beside it in the prebuilt package). */
export function monitorPath(): string {
  return artifact('berth-monitor', process.env.BERTH_MONITOR, path.join(root, 'target', 'release', 'berth-monitor'), 'berth-monitor');
}

export type ExtractedLayer = Binding.ExtractedLayer;
export type LayerPullFailure = Binding.LayerPullFailure;
export type CgroupInfo = Binding.CgroupInfo;
export type CgroupStats = Binding.CgroupStats;
export type CgroupDetail = Binding.CgroupDetail;
