// The operator's install: the npm tarballs (scripts/pack.sh) installed with `npm install -g`
// into a clean prefix with an empty npm cache, in a private mount namespace where cargo,
// rustc and the TypeScript compiler (and this checkout) are hidden — third-party
// dependencies come from the npm registry, nothing of berth's own is built — then
// `berthd --version` and the crictl sequence against the installed berthd.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crictlSequence } from '../helpers/crictl-sequence.js';
import { type Instance, repoRoot, startInstance } from '../helpers/instance.js';

const crictl = path.join(process.env.BERTH_CACHE ?? '/var/cache/berth', 'cri-tools-v1.37.0', 'crictl');
const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-pkg-'));
const prefix = path.join(dir, 'prefix');
// Node ≥ 22 as a node would have it: this Node, copied out of the checkout that gets hidden.
const nodeBin = path.join(dir, 'node-bin');
const PATH = `${nodeBin}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin`;
let inst: Instance | undefined;

test.after.always(async () => {
  await inst?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('npm install -g of the packed tarballs, with no compiler reachable, gives a berthd that runs the crictl sequence', async (t) => {
  const pkgs = path.join(dir, 'pkgs');
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'pack.sh'), pkgs], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tarballs = readdirSync(pkgs).filter((f) => f.endsWith('.tgz')).sort();
  t.deepEqual(tarballs.map((f) => f.replace(/-[\d.]+\.tgz$/, '')), ['berth', 'berth-native-linux-x64-gnu']);
  mkdirSync(nodeBin);
  copyFileSync(process.execPath, path.join(nodeBin, 'node'));
  execFileSync('chmod', ['0755', path.join(nodeBin, 'node')]);
  const hide = [repoRoot, '/root/.cargo', '/root/.rustup'].filter((d) => existsSync(d));
  const script = [
    'set -eu',
    ...hide.map((d) => `mount -t tmpfs -o ro,size=4k berth-hidden ${d}`),
    'for c in cargo rustc tsc; do if command -v $c >/dev/null; then echo "$c is reachable: $(command -v $c)" >&2; exit 1; fi; done',
    `npm install -g --prefix ${prefix} --cache ${path.join(dir, 'npm-cache')} --no-audit --no-fund --loglevel=error ${tarballs.map((f) => path.join(pkgs, f)).join(' ')}`,
    `${prefix}/bin/berthd --version`,
  ].join('\n');
  const started = Date.now();
  const out = execFileSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8', env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.log(`npm install -g + berthd --version: ${Date.now() - started} ms; tarballs ${tarballs.join(', ')}`);
  t.regex(out, /^berthd \d+\.\d+\.\d+ \(CRI runtime\.v1\)$/m);
  const installed = path.join(prefix, 'lib', 'node_modules', 'berth');
  t.false(existsSync(path.join(installed, 'src')), 'no TypeScript sources are shipped');
  t.true(existsSync(path.join(installed, 'dist', 'src', 'cli.js')));

  inst = await startInstance({ berthd: path.join(prefix, 'bin', 'berthd'), env: { PATH: `${nodeBin}:${process.env.PATH}` } });
  const s = await inst.rt.status({ verbose: true });
  t.true(s.status!.conditions.some((c) => c.type === 'RuntimeReady' && c.status));
  await crictlSequence(t, inst, crictl, 'installed');
});
