// containerd 1.6 (Debian's package) as the peer of the benches: a private instance with its own
// root, state, socket, runc root and cgroup parent under one temp dir. For the pod bench (with
// `cri`) its CRI plugin runs on the same CNI conflist dir and plugin dir as the berthd under
// test, runc, a pause image from the local registry and that registry as a plain-HTTP mirror.
// For the pull bench (no `cri`) the CRI plugin is disabled and the instance is driven with
// `ctr` (content store, overlayfs snapshotter). PID 1 is not systemd, so the bench starts the
// daemon itself, and afterwards removes everything it made and reports what leaked.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { native } from '../src/native/index.js';
import { clients, type Promisified } from '../test/helpers/cri-client.js';
import type { ImageServiceClient } from '../src/gen/runtime/v1/api.js';
import type { Rt } from './workload.js';

/** What the pod bench's CRI plugin needs; without it the CRI plugin is disabled. */
export interface CriOptions {
  /** The CNI conflist dir (the berthd instance's). */
  confDir: string;
  /** The local registry, configured as a plain-HTTP mirror of itself. */
  registry: string;
  /** The sandbox image. */
  pause: string;
}

export interface Containerd {
  dir: string;
  socket: string;
  version: string;
  proc: ChildProcess;
  /** `ctr --address <socket> <args>` (synchronous): its stdout; throws with its stderr. */
  ctr(args: string[]): string;
  /** The CRI clients (answer UNIMPLEMENTED when started without `cri`). */
  rt: Rt;
  img: Promisified<ImageServiceClient>;
  logDir: string;
  /** The pods' cgroup parent: with none, containerd's cgroupfs pods land at each hierarchy's root. */
  cgroupParent: string;
  /** The shim processes serving this instance (one per pod in containerd 1.6). */
  shims(): number[];
  /** The pause process of each pod (the sandbox container's init). */
  pauses(): number[];
  /** Stops containerd, sweeps what it left and returns that (empty when nothing leaked). */
  cleanup(): Promise<string[]>;
}

/** Where libcni (inside containerd) caches results: containerd 1.6 gives it no cache dir of its own. */
const cniCache = '/var/lib/cni/results';
/** containerd 1.6's shims put their sockets here whatever the state dir (defaults.DefaultStateDir). */
const shimSockets = '/run/containerd/s';

const ls = (d: string) => (existsSync(d) ? readdirSync(d) : []);

function procsMatching(...needles: string[]): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (needles.every((n) => cmd.includes(n))) out.push({ pid: Number(p), cmd });
    } catch {
      /* exited */
    }
  }
  return out;
}

function config(dir: string, socket: string, cri?: CriOptions): string {
  // Version 2 config; every path containerd would put under /var/lib, /run or /opt is moved into `dir`.
  const base = `version = 2
root = "${dir}/root"
state = "${dir}/state"
temp = "${dir}/tmp"
${cri ? '' : 'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'}[grpc]
  address = "${socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`;
  if (!cri) return base;
  return `${base}[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${cri.pause}"
  # Root here lacks CAP_SYS_RESOURCE: the pause container's -998 would make runc fail.
  restrict_oom_score_adj = true
  disable_apparmor = true
  # Network namespaces under our state dir, not /var/run/netns (removable with it).
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
        Root = "${dir}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cri.confDir}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${cri.registry}"]
    endpoint = ["http://${cri.registry}"]
`;
}

/**
 * Starts containerd and waits until it serves: with `cri`, until its CRI plugin reports the
 * runtime and the network ready; without, until `ctr plugins ls` answers with the overlayfs
 * snapshotter loaded. Throws with the reason (and the log's tail) when it cannot; nothing
 * is left behind then.
 */
export async function startContainerd(cri?: CriOptions): Promise<Containerd> {
  let version: string;
  try {
    version = execFileSync('containerd', ['--version'], { encoding: 'utf8' }).trim().split(' ')[2] ?? '?';
  } catch (e) {
    throw new Error(`containerd is not installed (apt-get install containerd): ${(e as Error).message.split('\n')[0]}`);
  }
  const tag = randomBytes(3).toString('hex');
  const dir = `/var/tmp/berth-bench-containerd-${tag}`;
  const socket = path.join(dir, 'containerd.sock');
  const logDir = path.join(dir, 'pod-logs');
  const cgroupParent = `/berth-bench-containerd-${tag}`;
  mkdirSync(logDir, { recursive: true });
  const cfgFile = path.join(dir, 'config.toml');
  writeFileSync(cfgFile, config(dir, socket, cri));
  const before = { cache: new Set(ls(cniCache)), sockets: new Set(ls(shimSockets)), runDir: existsSync('/run/containerd'), libCni: existsSync('/var/lib/cni') };
  const logFile = path.join(dir, 'containerd.log');
  const fd = openSync(logFile, 'a');
  const proc = spawn('containerd', ['--config', cfgFile, '--log-level', 'warn'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const logTail = () => {
    try {
      return readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
    } catch {
      return '';
    }
  };
  const { rt, img } = clients(socket);
  const ctr = (args: string[]) => execFileSync('ctr', ['--address', socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  const sweep = async (): Promise<string[]> => {
    const found: string[] = [];
    // Pods still there are leaks of the bench, but removing them through the CRI (while
    // containerd runs) is what runs their CNI DEL: veth, IP and cache go with them.
    try {
      if (!cri) throw new Error('no CRI plugin');
      const { items } = await rt.listPodSandbox({}, 5000);
      for (const p of items) {
        found.push(`pod ${p.metadata?.name} (${p.id.slice(0, 12)})`);
        await rt.stopPodSandbox({ podSandboxId: p.id }, 30_000).catch(() => undefined);
        await rt.removePodSandbox({ podSandboxId: p.id }, 30_000).catch(() => undefined);
      }
    } catch {
      /* containerd never came up, or runs without its CRI plugin */
    }
    rt.close();
    img.close();
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null && proc.signalCode === null) {
        found.push('containerd did not stop within 10 s of SIGTERM (killed)');
        proc.kill('SIGKILL');
        await exited;
      }
    }
    // Shims outlive containerd by design; with every pod removed there must be none, and no
    // process in the pods' cgroups either (a killed shim leaves its pause and containers).
    const pids = new Map<number, string>();
    for (const p of [...procsMatching(socket), ...procsMatching(dir)]) pids.set(p.pid, p.cmd);
    const walk = (d: string) => {
      try {
        for (const p of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) if (!pids.has(Number(p))) pids.set(Number(p), `in cgroup ${d}`);
        for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      } catch {
        /* gone */
      }
    };
    native.cgroupExisting(cgroupParent).forEach(walk);
    for (const [pid, what] of pids) {
      found.push(`process ${pid}: ${what}`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (pids.size) await new Promise((r) => setTimeout(r, 300));
    for (const netns of ls(path.join(dir, 'state', 'netns'))) found.push(`netns ${netns}`);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(dir));
    // Rootfs snapshots, /dev/shm and netns pins are mounted only while their pod exists.
    for (const m of mounts) found.push(`mount ${m}`);
    for (const m of mounts.sort((a, b) => b.length - a.length)) native.unmount(m);
    for (const p of native.cgroupExisting(cgroupParent)) {
      const kids = readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      if (kids.length) found.push(`cgroup ${p}: ${kids.join(', ')}`);
    }
    try {
      native.cgroupRemove(cgroupParent);
    } catch (e) {
      found.push(`could not remove cgroups: ${(e as Error).message}`);
    }
    for (const f of ls(cniCache).filter((f) => !before.cache.has(f))) {
      found.push(`CNI cache ${cniCache}/${f}`);
      rmSync(path.join(cniCache, f), { force: true });
    }
    for (const f of ls(shimSockets).filter((f) => !before.sockets.has(f))) {
      found.push(`shim socket ${shimSockets}/${f}`);
      rmSync(path.join(shimSockets, f), { force: true });
    }
    // Directories containerd (or libcni) made on the host, when they were not there before and are empty now.
    const rmdirEmpty = (d: string) => {
      try {
        for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirEmpty(path.join(d, e.name));
        if (!readdirSync(d).length) rmdirSync(d);
      } catch {
        /* absent or not empty */
      }
    };
    if (!before.runDir) rmdirEmpty('/run/containerd');
    if (!before.libCni) rmdirEmpty('/var/lib/cni');
    rmSync(dir, { recursive: true, force: true });
    return found;
  };

  try {
    const until = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`containerd exited with ${proc.exitCode}`);
      if (Date.now() > until) throw new Error(cri ? 'containerd\'s CRI plugin was not ready within 30 s' : 'containerd was not serving within 30 s');
      if (existsSync(socket)) {
        if (cri) {
          try {
            const st = await rt.status({}, 2000);
            const conds = st.status?.conditions ?? [];
            if (conds.length && conds.every((c) => c.status)) break;
          } catch {
            /* CRI plugin still loading */
          }
        } else {
          let plugins = '';
          try {
            plugins = ctr(['plugins', 'ls']);
          } catch {
            /* not serving yet */
          }
          // A snapshotter that cannot work on this filesystem is listed with status "skip".
          const overlay = plugins.split('\n').find((l) => /\bio\.containerd\.snapshotter\.v1\s+overlayfs\b/.test(l));
          if (overlay && /\bok\s*$/.test(overlay)) break;
          if (overlay) throw new Error(`containerd's overlayfs snapshotter is not usable here: ${overlay.trim()}`);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    const tail = logTail();
    await sweep();
    throw new Error(`${(e as Error).message}${tail ? `; its log:\n${tail}` : ''}`);
  }

  return {
    dir, socket, version, proc, ctr, rt, img, logDir, cgroupParent,
    shims: () => procsMatching('containerd-shim', `-address ${socket}`).map((p) => p.pid),
    pauses: () => procsMatching('/pause').filter((p) => p.cmd.trim() === '/pause' && isInCgroup(p.pid, cgroupParent)).map((p) => p.pid),
    cleanup: sweep,
  };
}

function isInCgroup(pid: number, parent: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`${parent}/`);
  } catch {
    return false;
  }
}
