// One berthd per test file: its own temp root, runtime dir, socket, cgroup root, CNI
// config (own bridge, subnet and IPAM dir) — so instances run side by side — and a leak
// check that everything it made is gone afterwards.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../../src/native/index.js';
import { clients, type Promisified } from './cri-client.js';
import type { ImageServiceClient, RuntimeServiceClient } from '../../src/gen/runtime/v1/api.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const registry = process.env.BERTH_REGISTRY ?? '127.0.0.1:5100';
export const busybox = `${registry}/busybox:latest`;
export const busyboxV2s2 = `${registry}/busybox:v2s2`;
export const busyboxLayered = `${registry}/busybox-layered:latest`;

export interface Instance {
  dir: string;
  socket: string;
  runtimeDir: string;
  root: string;
  logDir: string;
  cgroupRoot: string;
  bridge: string;
  ipamDir: string;
  network: string;
  /** The pod subnet of this instance's bridge (10.x.y.0/24). */
  subnet: string;
  rt: Promisified<RuntimeServiceClient>;
  img: Promisified<ImageServiceClient>;
  proc: ChildProcess;
  log: () => string;
  /** Resolves once berthd's log (written asynchronously by pino) has a line matching `re`. */
  waitForLog(re: RegExp, ms?: number): Promise<string>;
  stop(): Promise<number | null>;
  /** Stops berthd (SIGTERM, or SIGKILL when `kill`) and starts it again on the same dirs. */
  restart(kill?: boolean): Promise<void>;
  leaks(): string[];
  cleanup(): Promise<void>;
}

export interface InstanceOptions {
  /** Extra top-level TOML keys for the config file. */
  toml?: string;
  env?: NodeJS.ProcessEnv;
  /** The berthd to run (an installed one); default: this checkout's dist/src/cli.js. */
  berthd?: string;
  /** More runtime handlers (name → OCI runtime path) beside runc, crun and crun-v1. */
  extraRuntimes?: Record<string, string>;
  /** berthd's log level (default debug, for the tests' log checks; the bench runs the default, info). */
  logLevel?: string;
  /** berthd's cgroup_root (default /berth-it-<tag>): the bench names its own. */
  cgroupRoot?: string;
}

const ipForward = '/proc/sys/net/ipv4/ip_forward';

export function spawnBerthd(args: string[], env: NodeJS.ProcessEnv = {}, berthd?: string): ChildProcess {
  const [bin, pre] = berthd ? [berthd, []] : [process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli.js')]];
  return spawn(bin, [...pre, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

export async function waitForSocket(file: string, proc: ChildProcess, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(file)) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode} before serving`);
    if (Date.now() > until) throw new Error(`berthd did not create ${file} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A random 10.200-249.x.0/24 that no route on this host uses yet (instances run side by side). */
function freeSubnet(): string {
  const routes = readFileSync('/proc/net/route', 'utf8');
  for (;;) {
    const [a, b] = [200 + Math.floor(Math.random() * 50), Math.floor(Math.random() * 256)];
    // /proc/net/route holds destinations as little-endian hex: 10.a.b.0 → 00 b a 0A.
    const hex = [0, b, a, 10].map((x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();
    if (!routes.includes(`\t${hex}\t`)) return `10.${a}.${b}.0/24`;
  }
}

export async function startInstance(opts: InstanceOptions = {}): Promise<Instance> {
  const tag = randomBytes(3).toString('hex');
  const dir = path.join(os.tmpdir(), `berth-it-${tag}`);
  const [runtimeDir, root, logDir, confDir, ipamDir] = ['run', 'root', 'logs', 'net.d', 'ipam'].map((d) => path.join(dir, d)) as [string, string, string, string, string];
  for (const d of [runtimeDir, root, logDir, confDir, ipamDir]) mkdirSync(d, { recursive: true });
  const bridge = `bt${tag}`;
  const network = `berth-it-${tag}`;
  const subnet = freeSubnet();
  writeFileSync(
    path.join(confDir, '10-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: network,
      plugins: [
        { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] } },
        // hostPorts (and on 127.0.0.1: portmap's default snat sets route_localnet on the bridge, which goes with it);
        // the default route above lets a pod answer a hostPort connection from the host's own address.
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'loopback' },
      ],
    }),
  );
  const socket = path.join(dir, 'berth.sock');
  const cgroupRoot = opts.cgroupRoot ?? `/berth-it-${tag}`;
  const configFile = path.join(dir, 'berth.toml');
  writeFileSync(
    configFile,
    [
      `socket = "${socket}"`, `root = "${root}"`, `runtime_dir = "${runtimeDir}"`, `cni_conf_dir = "${confDir}"`,
      `cgroup_root = "${cgroupRoot}"`, `log_level = "${opts.logLevel ?? 'debug'}"`, `create_timeout_seconds = 30`,
      opts.toml ?? '', // top-level keys: before the first [table]
      '[runtimes.runc]', 'path = "runc"', '[runtimes.crun]', 'path = "crun"',
      '[runtimes.crun-v1]', `path = "${path.join(repoRoot, 'test', 'fixtures', 'crun-v1-only')}"`,
      ...Object.entries(opts.extraRuntimes ?? {}).flatMap(([name, bin]) => [`[runtimes.${name}]`, `path = ${JSON.stringify(bin)}`]),
    ].join('\n'),
  );
  const forwardBefore = readFileSync(ipForward, 'utf8');
  const portmapChainsBefore = portmapChainsExist();
  let stderr = '';
  const launch = async () => {
    const p = spawnBerthd(['--config', configFile], opts.env, opts.berthd);
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitForSocket(socket, p);
    } catch (e) {
      // A berthd that never came up is not left running (nothing else would stop it).
      p.kill('SIGKILL');
      throw new Error(`${(e as Error).message}; its log:\n${stderr.split('\n').slice(-15).join('\n')}`);
    }
    return p;
  };
  const stopProc = (p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<number | null>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
      p.once('exit', (code) => resolve(code));
      p.kill(signal);
    });
  const proc = await launch();
  const { rt, img } = clients(socket);
  const inst: Instance = {
    dir, socket, runtimeDir, root, logDir, cgroupRoot, bridge, ipamDir, network, subnet, rt, img, proc,
    log: () => stderr,
    async waitForLog(re, ms = 5000) {
      const until = Date.now() + ms;
      while (!re.test(stderr)) {
        if (Date.now() > until) throw new Error(`berthd never logged ${re}; last lines:\n${stderr.split('\n').slice(-15).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return stderr;
    },
    stop: () => stopProc(inst.proc),
    async restart(kill = false) {
      inst.rt.close();
      inst.img.close();
      await stopProc(inst.proc, kill ? 'SIGKILL' : 'SIGTERM');
      if (kill) rmSync(socket, { force: true });
      inst.proc = await launch();
      Object.assign(inst, clients(socket));
    },
    leaks: () => leaks(inst),
    async cleanup() {
      inst.rt.close();
      inst.img.close();
      await inst.stop();
      const left = sweep(inst);
      try {
        execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
      } catch {
        /* never created */
      }
      writeFileSync(ipForward, forwardBefore);
      if (!portmapChainsBefore) removeIdlePortmapChains(dir);
      rmSync(dir, { recursive: true, force: true });
      // Swept so a failed test cannot poison the machine, but never silently.
      if (left.length) throw new Error(`berthd left these behind after it stopped (swept):\n${left.join('\n')}`);
    },
  };
  return inst;
}

/** Everything an instance may have left behind; empty when nothing leaked. */
export function leaks(inst: Instance): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(inst.dir)) out.push(`mount: ${line}`);
  }
  for (const d of ['pods', 'containers', 'idmap']) {
    const p = path.join(inst.runtimeDir, d);
    if (existsSync(p) && readdirSync(p).length) out.push(`runtime dir ${p}: ${readdirSync(p).join(', ')}`);
    const q = path.join(inst.root, d);
    if (existsSync(q) && readdirSync(q).length) out.push(`records ${q}: ${readdirSync(q).join(', ')}`);
  }
  for (const p of native.cgroupExisting(inst.cgroupRoot)) {
    const kids = readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    if (kids.length) out.push(`cgroup ${p}: ${kids.join(', ')}`);
  }
  try {
    const ports = execFileSync('ip', ['-o', 'link', 'show', 'master', inst.bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (ports) out.push(`veth on ${inst.bridge}: ${ports}`);
  } catch {
    /* no bridge: nothing attached */
  }
  const ipam = path.join(inst.ipamDir, inst.network);
  if (existsSync(ipam)) {
    const ips = readdirSync(ipam).filter((f) => !f.startsWith('last_reserved_ip') && f !== 'lock');
    if (ips.length) out.push(`IP allocations in ${ipam}: ${ips.join(', ')}`);
  }
  out.push(...natRulesOf(inst).map((r) => `iptables nat rule: ${r}`));
  const cache = path.join(inst.root, 'cni', 'results');
  if (existsSync(cache) && readdirSync(cache).length) out.push(`CNI cache: ${readdirSync(cache).join(', ')}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmd.includes(inst.runtimeDir)) out.push(`process ${pid}: ${cmd}`);
  }
  return out;
}

/**
 * portmap's rules for this instance's pods (nat table, IPv4 and IPv6): the per-pod entry
 * rules carry the network name in their comment, the DNAT rules point into the subnet.
 * portmap's shared chains (CNI-HOSTPORT-*) stay by design, as every runtime leaves them.
 */
export function natRulesOf(inst: Pick<Instance, 'network' | 'subnet'>): string[] {
  const prefix = inst.subnet.replace(/\.0\/24$/, '.');
  const out: string[] = [];
  for (const cmd of ['iptables-save', 'ip6tables-save']) {
    let text = '';
    try {
      text = execFileSync(cmd, ['-t', 'nat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue;
    }
    const lines = text.split('\n');
    // The per-pod chains our entry rules jump to, with every rule in them (SETMARK ones too).
    const chains = new Set(lines.filter((l) => l.includes(inst.network)).map((l) => / -j (CNI-DN-\S+)/.exec(l)?.[1]).filter(Boolean));
    for (const line of lines) {
      const chain = /^-A (\S+)/.exec(line)?.[1];
      if (line.includes(inst.network) || line.includes(`--to-destination ${prefix}`) || (chain && chains.has(chain))) out.push(line);
    }
  }
  return out;
}

/** Removes this instance's portmap rules and per-pod chains (only those: see natRulesOf). */
function sweepNat(inst: Instance): void {
  const rules = natRulesOf(inst);
  const chains = new Set<string>();
  for (const r of rules) {
    const m = /^-A (\S+) (.*)$/.exec(r);
    if (!m) continue;
    const jump = / -j (CNI-DN-\S+)/.exec(r);
    if (jump) chains.add(jump[1]!);
    if (m[1]!.startsWith('CNI-DN-')) chains.add(m[1]!);
    // The rule text is iptables-save's, shell-quoted: sh splits it back into arguments.
    else if (jump) for (const cmd of ['iptables', 'ip6tables']) tryRun('sh', ['-c', `${cmd} -t nat -D ${m[1]} ${m[2]}`]);
  }
  for (const c of chains) for (const cmd of ['iptables', 'ip6tables']) for (const op of ['-F', '-X']) tryRun(cmd, ['-t', 'nat', op, c]);
}

const portmapShared = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ'];

function portmapChainsExist(): boolean {
  try {
    return execFileSync('iptables', ['-t', 'nat', '-S'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('-N CNI-HOSTPORT-DNAT');
  } catch {
    return false;
  }
}

/**
 * portmap's shared chains (and their jumps from PREROUTING/OUTPUT/POSTROUTING) are
 * created by the first pod with a hostPort and never removed by portmap. An instance that
 * found none restores that — but only while no pod anywhere uses them (the DNAT chain is
 * empty) and no other test instance is alive beside it (its pods may be in the middle of
 * an ADD), so it never takes a chain from under someone else.
 */
function removeIdlePortmapChains(ownDir: string): void {
  const others = readdirSync(os.tmpdir()).filter((d) => d.startsWith('berth-it-') && path.join(os.tmpdir(), d) !== ownDir);
  if (others.length) return;
  let rules = '';
  try {
    rules = execFileSync('iptables', ['-t', 'nat', '-S'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return;
  }
  if (/^-A CNI-HOSTPORT-DNAT /m.test(rules)) return;
  for (const line of rules.split('\n')) {
    const m = /^-A (PREROUTING|OUTPUT|POSTROUTING) (.* -j CNI-HOSTPORT-(?:DNAT|MASQ))$/.exec(line);
    if (m) tryRun('sh', ['-c', `iptables -t nat -D ${m[1]} ${m[2]}`]);
  }
  for (const c of portmapShared) for (const op of ['-F', '-X']) tryRun('iptables', ['-t', 'nat', op, c]);
}

function tryRun(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    /* not there (that family, or already gone) */
  }
}

/** The cgroup root itself must be gone once the daemon stopped with no pods. */
export function cgroupRootLeft(inst: Instance): string[] {
  return native.cgroupExisting(inst.cgroupRoot);
}

export function podConfig(name: string, extra: Record<string, unknown> = {}) {
  return {
    metadata: { name, namespace: 'berth-test', uid: `uid-${name}-${randomBytes(3).toString('hex')}`, attempt: 0 },
    hostname: name,
    linux: { securityContext: { namespaceOptions: { pid: 1 } } },
    ...extra,
  };
}

export function containerConfig(name: string, image: string, command: string[], extra: Record<string, unknown> = {}) {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command,
    logPath: `${name}.log`,
    linux: { securityContext: { namespaceOptions: { pid: 1 } } },
    ...extra,
  };
}

/**
 * Safety net after a test: ends processes in the instance's cgroups or naming its runtime
 * dir (only ones this instance started), unmounts what it mounted, removes its cgroups.
 * Returns what was found (the leaks), so the caller can fail loudly.
 */
export function sweep(inst: Instance): string[] {
  const found = leaks(inst);
  if (!found.length && !native.cgroupExisting(inst.cgroupRoot).length) return [];
  const pids = new Set<number>();
  const walk = (d: string) => {
    try {
      for (const p of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(p));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    } catch {
      /* gone */
    }
  };
  native.cgroupExisting(inst.cgroupRoot).forEach(walk);
  for (const l of found) {
    const m = /^process (\d+):/.exec(l);
    if (m) pids.add(Number(m[1]));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  execFileSync('sleep', ['0.3']);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(inst.dir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) native.unmount(m);
  sweepNat(inst);
  try {
    native.cgroupRemove(inst.cgroupRoot);
  } catch (e) {
    found.push(`could not remove cgroups: ${(e as Error).message}`);
  }
  return found;
}
