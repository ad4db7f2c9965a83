// OCI runtime spec (config.json) generation: the CRI container config merged with the
// image config the way Docker and the kubelet expect. Pure: no I/O, unit-tested.
import path from 'node:path';
import { invalid, precondition } from '../errors.js';
import { type ContainerConfig, NamespaceMode } from '../gen/runtime/v1/api.js';
import type { ImageConfig } from './image-config.js';
import { ociMounts, recursiveReadOnlyHook, rootfsPropagation } from './mounts.js';
import { type CgroupCaps, type HostDevice, linuxDevices, resources } from './resources.js';
import type { OciSeccomp } from './seccomp.js';
import { type ProcessUser, resolveUser } from './users.js';

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
  /** The pod's own user namespace to join, with its mappings (src/oci/userns.ts usernsSpec). */
  userns?: { namespace: { type: string; path: string }; uidMappings: object[]; gidMappings: object[] };
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
  /** The resolved identity (src/oci/users.ts); absent: numeric users only, no image files. */
  user?: ProcessUser;
  /** linux.seccomp (src/oci/seccomp.ts); absent: unconfined. */
  seccomp?: OciSeccomp;
  /** Host directory of each image volume, by container path. */
  imageVolumes?: Record<string, string>;
  /** berth-monitor, run as the createContainer hook of recursive read-only mounts. */
  monitorPath?: string;
  /** CRI devices (privileged: every host device), resolved on the host (src/container/devices.ts). */
  devices?: HostDevice[];
  /** What the host's cgroups can take; absent: neither hugetlb nor v2. */
  cgroup?: CgroupCaps;
  /** process.apparmorProfile / selinuxLabel (src/oci/lsm.ts). */
  lsm?: { apparmorProfile?: string; selinuxLabel?: string };
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

/**
 * The process's working directory: the CRI's, else the image's, else /. Relative image
 * values are taken from / (as Docker does). Anything under /proc is refused: a cwd of
 * /proc/self/fd/N is how a leaked runtime fd reaches the host (CVE-2024-21626), and no
 * real workload works from /proc.
 */
export function workingDir(cri: string, image: string | undefined): string {
  const field = cri ? 'working_dir' : 'the image WorkingDir';
  const wd = path.posix.normalize(`/${cri || image || '/'}`);
  if (wd === '/proc' || wd.startsWith('/proc/')) throw invalid(`${field} ${JSON.stringify(cri || image)} is under /proc`);
  return wd;
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

export function generateSpec(input: SpecInput): Record<string, unknown> {
  const c = input.container;
  const sc = c.linux?.securityContext;
  // An absent namespace_options message means all-default, i.e. POD for PID.
  const pidMode = sc?.namespaceOptions?.pid ?? NamespaceMode.POD;
  const caps = capabilities(c, input.boundingCaps);
  const wantedOom = Number(c.linux?.resources?.oomScoreAdj ?? 0n);
  const namespaces: Array<{ type: string; path?: string }> = [...(input.userns ? [input.userns.namespace] : []), { type: 'mount' }];
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
      user: input.user ?? resolveUser(c, input.image.User, {}),
      args: processArgs(c, input.image),
      env: mergeEnv(input.image, c.envs),
      cwd: workingDir(c.workingDir, input.image.WorkingDir),
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: !!sc?.noNewPrivs,
      oomScoreAdj: Math.max(wantedOom, input.minOomScoreAdj),
      ...input.lsm,
    },
    root: { path: input.rootfs, readonly: !!sc?.readonlyRootfs },
    hostname: input.hostname,
    mounts: ociMounts(input),
    ...(recursiveReadOnlyHook(c, input.rootfs, input.monitorPath) ? { hooks: recursiveReadOnlyHook(c, input.rootfs, input.monitorPath) } : {}),
    annotations: { ...c.annotations, 'io.kubernetes.cri.container-name': c.metadata?.name ?? '' },
    linux: {
      cgroupsPath: input.cgroupsPath,
      namespaces,
      ...(input.userns ? { uidMappings: input.userns.uidMappings, gidMappings: input.userns.gidMappings } : {}),
      resources: resources(c, input.devices ?? [], input.cgroup, !!sc?.privileged),
      ...(input.devices?.length ? { devices: linuxDevices(input.devices) } : {}),
      sysctl: input.sysctls,
      ...(rootfsPropagation(c) ? { rootfsPropagation: rootfsPropagation(c) } : {}),
      ...(input.seccomp ? { seccomp: input.seccomp } : {}),
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
