// OCI runtime spec (config.json) generation: the CRI container config merged with the
// image config the way Docker and the kubelet expect. Pure: no I/O, unit-tested.
import { invalid, precondition } from '../errors.js';
import { type ContainerConfig, MountPropagation, NamespaceMode } from '../gen/runtime/v1/api.js';
import type { ImageConfig } from './image-config.js';

/** Docker's default capability set (containerd uses it too). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const MASKED = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface SpecInput {
  ociVersion: string;
  container: ContainerConfig;
  image: ImageConfig;
  rootfs: string;
  hostname: string;
  /** Pinned pod namespaces to join; a missing kind means "the host's" (NODE mode). */
  podNamespaces: { network?: string; ipc?: string; uts?: string; pid?: string };
  /** PID namespace of the target container (NamespaceMode TARGET). */
  targetPidNs?: string;
  cgroupsPath: string;
  /** Files the pod provides: /etc/resolv.conf, /etc/hostname, /etc/hosts. */
  podFiles: Array<{ destination: string; source: string }>;
  /** Capabilities berthd holds: "ALL" and privileged mean these, not every known one. */
  boundingCaps: string[];
  /** Lowest oom_score_adj this process may set (berthd's own when it lacks CAP_SYS_RESOURCE). */
  minOomScoreAdj: number;
  sysctls: Record<string, string>;
}

/** Docker's rule: CRI command replaces the entrypoint; CRI args replace the image Cmd. */
export function processArgs(c: Pick<ContainerConfig, 'command' | 'args'>, img: ImageConfig): string[] {
  const args = c.command.length > 0 ? [...c.command, ...c.args] : [...(img.Entrypoint ?? []), ...(c.args.length > 0 ? c.args : (img.Cmd ?? []))];
  if (args.length === 0) throw invalid('no command specified: the container config and the image give neither command nor entrypoint/cmd');
  return args;
}

/** Image env first, CRI envs override by key; PATH defaults as in Docker. */
export function mergeEnv(img: ImageConfig, envs: Array<{ key: string; value: Uint8Array | string }>): string[] {
  const out = new Map<string, string>();
  for (const e of img.Env ?? []) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const e of envs) out.set(e.key, typeof e.value === 'string' ? e.value : Buffer.from(e.value).toString('utf8'));
  if (!out.has('PATH')) out.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...out].map(([k, v]) => `${k}=${v}`);
}

/** uid/gid from the CRI security context, else the image's numeric USER. */
export function processUser(c: ContainerConfig, img: ImageConfig): { uid: number; gid: number; additionalGids?: number[] } {
  const sc = c.linux?.securityContext;
  const groups = (sc?.supplementalGroups ?? []).map(Number);
  const extra = groups.length > 0 ? { additionalGids: groups } : {};
  if (sc?.runAsUser) return { uid: Number(sc.runAsUser.value), gid: Number(sc.runAsGroup?.value ?? 0n), ...extra };
  const user = sc?.runAsUsername || img.User || '';
  if (!user || user === 'root') return { uid: 0, gid: Number(sc?.runAsGroup?.value ?? 0n), ...extra };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) throw invalid(`user ${JSON.stringify(user)}: only numeric users (uid[:gid]) are resolved so far`);
  return { uid: Number(m[1]), gid: Number(sc?.runAsGroup?.value ?? BigInt(m[2] ?? '0')), ...extra };
}

export function capabilities(c: ContainerConfig, bounding: string[]): string[] {
  const sc = c.linux?.securityContext;
  const norm = (s: string) => (s.toUpperCase().startsWith('CAP_') ? s.toUpperCase() : `CAP_${s.toUpperCase()}`);
  if (sc?.privileged) return [...bounding];
  let caps = new Set(DEFAULT_CAPS);
  for (const a of sc?.capabilities?.addCapabilities ?? []) {
    if (a.toUpperCase() === 'ALL') caps = new Set(bounding);
    else caps.add(norm(a));
  }
  for (const d of sc?.capabilities?.dropCapabilities ?? []) {
    if (d.toUpperCase() === 'ALL') caps.clear();
    else caps.delete(norm(d));
  }
  return [...caps].filter((x) => bounding.includes(x));
}

function propagation(p: MountPropagation): string {
  if (p === MountPropagation.PROPAGATION_BIDIRECTIONAL) return 'rshared';
  if (p === MountPropagation.PROPAGATION_HOST_TO_CONTAINER) return 'rslave';
  return 'rprivate';
}

function mounts(input: SpecInput): object[] {
  const c = input.container;
  const ro = !!c.linux?.securityContext?.privileged ? [] : ['ro'];
  const base = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro] },
  ];
  const taken = new Set(c.mounts.map((m) => m.containerPath));
  const pod = input.podFiles
    .filter((f) => !taken.has(f.destination))
    .map((f) => ({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'rprivate', 'rw'] }));
  const user = c.mounts.map((m) => {
    if (!m.containerPath.startsWith('/')) throw invalid(`mount ${JSON.stringify(m.containerPath)}: container path must be absolute`);
    if (!m.hostPath.startsWith('/')) throw invalid(`mount ${JSON.stringify(m.hostPath)}: host path must be absolute`);
    return { destination: m.containerPath, type: 'bind', source: m.hostPath, options: ['rbind', propagation(m.propagation), m.readonly ? 'ro' : 'rw'] };
  });
  return [...base, ...pod, ...user];
}

function resources(c: ContainerConfig): object {
  const r = c.linux?.resources;
  const out: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (!r) return out;
  const cpu: Record<string, unknown> = {};
  if (r.cpuShares > 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota > 0n) cpu.quota = Number(r.cpuQuota);
  if (r.cpuPeriod > 0n) cpu.period = Number(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.memoryLimitInBytes > 0n) {
    out.memory = { limit: Number(r.memoryLimitInBytes), ...(r.memorySwapLimitInBytes > 0n ? { swap: Number(r.memorySwapLimitInBytes) } : {}) };
  }
  return out;
}

export function generateSpec(input: SpecInput): Record<string, unknown> {
  const c = input.container;
  const sc = c.linux?.securityContext;
  // An absent namespace_options message means all-default, i.e. POD for PID.
  const pidMode = sc?.namespaceOptions?.pid ?? NamespaceMode.POD;
  const caps = capabilities(c, input.boundingCaps);
  const wantedOom = Number(c.linux?.resources?.oomScoreAdj ?? 0n);
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'mount' }];
  if (pidMode === NamespaceMode.CONTAINER) namespaces.push({ type: 'pid' });
  else if (pidMode === NamespaceMode.POD) {
    if (!input.podNamespaces.pid) throw precondition('container asks for the pod PID namespace, but its pod sandbox was created without PID sharing');
    namespaces.push({ type: 'pid', path: input.podNamespaces.pid });
  } else if (pidMode === NamespaceMode.TARGET) {
    if (!input.targetPidNs) throw invalid('PID namespace mode TARGET needs a running target container');
    namespaces.push({ type: 'pid', path: input.targetPidNs });
  }
  for (const [type, p] of [['network', input.podNamespaces.network], ['ipc', input.podNamespaces.ipc], ['uts', input.podNamespaces.uts]] as const) {
    if (p) namespaces.push({ type, path: p });
  }
  return {
    ociVersion: input.ociVersion,
    process: {
      terminal: c.tty,
      user: processUser(c, input.image),
      args: processArgs(c, input.image),
      env: mergeEnv(input.image, c.envs),
      cwd: c.workingDir || input.image.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: !!sc?.noNewPrivs,
      oomScoreAdj: Math.max(wantedOom, input.minOomScoreAdj),
    },
    root: { path: input.rootfs, readonly: !!sc?.readonlyRootfs },
    hostname: input.hostname,
    mounts: mounts(input),
    annotations: { ...c.annotations, 'io.kubernetes.cri.container-name': c.metadata?.name ?? '' },
    linux: {
      cgroupsPath: input.cgroupsPath,
      namespaces,
      resources: resources(c),
      sysctl: input.sysctls,
      ...(sc?.privileged
        ? {}
        : { maskedPaths: sc?.maskedPaths.length ? sc.maskedPaths : MASKED, readonlyPaths: sc?.readonlyPaths.length ? sc.readonlyPaths : READONLY }),
    },
  };
}

/** Namespaced sysctls a pod may set (the kubelet's safe + unsafe-but-namespaced families). */
export function validateSysctls(sysctls: Record<string, string>, hostNetwork: boolean, hostIpc: boolean): void {
  for (const [k, v] of Object.entries(sysctls)) {
    if (!/^[a-z0-9_]+(?:[./][a-z0-9_-]+)+$/.test(k)) throw invalid(`sysctl ${JSON.stringify(k)}: not a valid sysctl name`);
    if (/[=\n+]/.test(v) || /[=\n]/.test(k)) throw invalid(`sysctl ${k}: value ${JSON.stringify(v)} is not allowed`);
    const ipc = /^(kernel\.(shm|msg|sem)|fs\.mqueue\.)/.test(k);
    const net = k.startsWith('net.');
    if (!ipc && !net) throw invalid(`sysctl ${k} is not namespaced; a pod may not set it`);
    if (net && hostNetwork) throw invalid(`sysctl ${k} needs the pod's own network namespace (pod uses the host network)`);
    if (ipc && hostIpc) throw invalid(`sysctl ${k} needs the pod's own IPC namespace (pod uses the host IPC)`);
  }
}
