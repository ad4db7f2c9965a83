// The floor under a pod start: what any runtime must at least spend, with no CRI, no daemon and
// no bookkeeping — a bare `runc run` (and `crun run`) of the bench image's own rootfs, plus one
// CNI ADD (and DEL) of the same conflist the runtimes use, with Debian's plugins executed
// directly through the CNI environment protocol in a network namespace made for it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../src/native/index.js';
import { repoRoot } from '../test/helpers/instance.js';
import { firstLine } from './workload.js';

export const cniBin = '/usr/lib/cni';

export interface Bundle {
  dir: string;
  remove(): void;
}

/**
 * The bench image unpacked as an OCI bundle by umoci (its rootfs and umoci's default spec,
 * which has the namespaces, mounts and device rules a CRI runtime's spec has too). The
 * process runs `true` and exits; cgroups go under a parent of our own, never the root.
 */
export function unpackBundle(image: string, cgroupParent: string): Bundle {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-floor-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${image}`, `oci:${dir}/layout:img`], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('umoci', ['unpack', '--image', `${dir}/layout:img`, `${dir}/bundle`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const specFile = path.join(dir, 'bundle', 'config.json');
    const spec = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, any>;
    spec.process.args = ['/bin/true'];
    spec.process.terminal = false;
    spec.linux.cgroupsPath = cgroupParent; // per container: <parent>/<id>, set by the caller
    writeFileSync(specFile, JSON.stringify(spec));
    return { dir: path.join(dir, 'bundle'), remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/**
 * `n` runs of `<runtime> run` on the bundle, each to its exit (create, start, wait, delete).
 * Returns the times, or the reason the runtime cannot run here (its first error line).
 */
export function bareRun(runtime: string, bundle: Bundle, cgroupParent: string, n: number): number[] | string {
  const state = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-state-'));
  const specFile = path.join(bundle.dir, 'config.json');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, any>;
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const id = `berth-bench-floor-${i}`;
      spec.linux.cgroupsPath = `${cgroupParent}/${id}`;
      writeFileSync(specFile, JSON.stringify(spec));
      const t0 = performance.now();
      try {
        execFileSync(runtime, ['--root', state, 'run', '--bundle', bundle.dir, id], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
        return firstLine(err || e);
      }
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    rmSync(state, { recursive: true, force: true });
    native.cgroupRemove(cgroupParent);
  }
}

/** crun as berth's `crun-v1` handler runs it on this hybrid host (see test/fixtures/crun-v1-only). */
export const crunV1 = path.join(repoRoot, 'test', 'fixtures', 'crun-v1-only');

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: ({ type: string } & Record<string, unknown>)[];
}

/** One plugin call, as libcni makes it: config on stdin, the call in CNI_* variables, result on stdout. */
function invoke(command: 'ADD' | 'DEL', list: Conflist, plugin: Conflist['plugins'][number], containerId: string, netns: string, prev?: unknown): unknown {
  const conf = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prev ? { prevResult: prev } : {}) };
  let stdout: string;
  try {
    stdout = execFileSync(path.join(cniBin, plugin.type), [], {
      input: JSON.stringify(conf),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: cniBin },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? '';
    throw new Error(`CNI ${command} ${plugin.type}: ${out.trim() || (e as Error).message}`);
  }
  return stdout.trim() ? JSON.parse(stdout) : prev;
}

/**
 * `n` rounds of ADD through the conflist's chain and DEL in reverse (prevResult = ADD's final
 * result, as libcni does for 1.0.0), in one network namespace made for this and removed after.
 */
export function cniAddDel(conflistFile: string, n: number): { add: number[]; del: number[] } {
  const list = JSON.parse(readFileSync(conflistFile, 'utf8')) as Conflist;
  const name = `berth-bench-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  const netns = `/var/run/netns/${name}`;
  const add: number[] = [];
  const del: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const id = `${name}-${i}`;
      const t0 = performance.now();
      let result: unknown;
      try {
        for (const p of list.plugins) result = invoke('ADD', list, p, id, netns, result);
      } catch (e) {
        // DEL after a failed ADD too (libcni's callers do): nothing half-made stays.
        for (const p of [...list.plugins].reverse()) try { invoke('DEL', list, p, id, netns, result); } catch { /* reported: the ADD's error */ }
        throw e;
      }
      const t1 = performance.now();
      for (const p of [...list.plugins].reverse()) invoke('DEL', list, p, id, netns, result);
      add.push(t1 - t0);
      del.push(performance.now() - t1);
    }
    return { add, del };
  } finally {
    execFileSync('ip', ['netns', 'del', name]);
  }
}
