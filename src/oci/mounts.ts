// The OCI mounts of a container: the runtime's own (/proc, /dev, /sys…), the pod's files
// (/etc/hosts, resolv.conf, hostname), and the CRI mounts with their propagation — plus
// the host-side checks runc and containerd make before propagation can work.
import { invalid, precondition } from '../errors.js';
import { type ContainerConfig, type Mount, MountPropagation } from '../gen/runtime/v1/api.js';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** What the spec generator needs beyond the container config. */
export interface MountInput {
  container: ContainerConfig;
  /** Files the pod provides: /etc/resolv.conf, /etc/hostname, /etc/hosts. */
  podFiles: Array<{ destination: string; source: string }>;
  /** Host directory of each image volume, by container path (see src/container/image-volumes.ts). */
  imageVolumes?: Record<string, string>;

}

function propagation(p: MountPropagation): string {
  if (p === MountPropagation.PROPAGATION_BIDIRECTIONAL) return 'rshared';
  if (p === MountPropagation.PROPAGATION_HOST_TO_CONTAINER) return 'rslave';
  return 'rprivate';
}

/** A CRI mount of an image (KEP-4639) rather than of a host path. */
export function isImageMount(m: Mount): boolean {
  return !!m.image?.image;
}

export function ociMounts(input: MountInput): OciMount[] {
  const c = input.container;
  const ro = c.linux?.securityContext?.privileged ? [] : ['ro'];
  const base: OciMount[] = [
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
    .map((f) => ({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'rprivate', 'rw', ...(f.destination === '/dev/shm' ? ['nosuid', 'nodev', 'noexec'] : [])] }));
  // The pod's /dev/shm (a bind) replaces the container's own tmpfs.
  const fromPod = new Set(pod.map((m) => m.destination));
  const user = c.mounts.map((m) => {
    if (!m.containerPath.startsWith('/')) throw invalid(`mount ${JSON.stringify(m.containerPath)}: container path must be absolute`);
    if (isImageMount(m)) {
      const source = input.imageVolumes?.[m.containerPath];
      if (!source) throw invalid(`mount ${m.containerPath}: image volume ${m.image!.image} was not prepared`);
      // Read-only twice over: the overlay beneath is read-only, and so is the bind.
      return { destination: m.containerPath, type: 'bind', source, options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev'] };
    }
    if (!m.hostPath.startsWith('/')) throw invalid(`mount ${JSON.stringify(m.hostPath)}: host path must be absolute`);
    return { destination: m.containerPath, type: 'bind', source: m.hostPath, options: ['rbind', propagation(m.propagation), m.readonly ? 'ro' : 'rw'] };
  });
  return [...base.filter((m) => !fromPod.has(m.destination)), ...pod, ...user];
}

/**
 * The container's root propagation, as containerd sets it: a bidirectional mount needs
 * the whole mount tree shared (else the container's own mounts never reach the host), a
 * host-to-container one needs it at least slave; otherwise the runtime's default (runc:
 * rslave; crun: rprivate) stays.
 */
export function rootfsPropagation(c: ContainerConfig): string | undefined {
  const ps = c.mounts.filter((m) => !isImageMount(m)).map((m) => m.propagation);
  if (ps.includes(MountPropagation.PROPAGATION_BIDIRECTIONAL)) return 'rshared';
  if (ps.includes(MountPropagation.PROPAGATION_HOST_TO_CONTAINER)) return 'rslave';
  return undefined;
}

/** One line of /proc/self/mountinfo: where it is mounted and its propagation tags. */
interface MountInfo {
  mountPoint: string;
  shared: boolean;
  slave: boolean;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 7 || sep < 6) continue;
    const opt = f.slice(6, sep);
    out.push({ mountPoint: unescape(f[4]!), shared: opt.some((o) => o.startsWith('shared:')), slave: opt.some((o) => o.startsWith('master:')) });
  }
  return out;
}

/** The mount a (resolved) host path lives on: the longest mount point that is a prefix; the last one wins when stacked. */
function mountOf(infos: MountInfo[], p: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of infos) {
    const under = m.mountPoint === '/' || p === m.mountPoint || p.startsWith(`${m.mountPoint}/`);
    if (under && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/**
 * runc and containerd's host-side check: propagation only works if the source's mount
 * on the host propagates. Bidirectional needs a shared mount, host-to-container a shared
 * or slave one; anything else would silently not propagate, so it is refused.
 * `resolve` gives each host path with its symlinks resolved (as the bind will see it).
 */
export async function checkPropagation(c: ContainerConfig, mountinfo: () => Promise<string>, resolve: (p: string) => string): Promise<void> {
  const wanted = c.mounts.filter((m) => !isImageMount(m) && m.propagation !== MountPropagation.PROPAGATION_PRIVATE);
  // Read only when needed: mountinfo grows with every pod's mounts on the node.
  if (wanted.length === 0) return;
  const infos = parseMountInfo(await mountinfo());
  for (const m of wanted) {
    const src = resolve(m.hostPath);
    const on = mountOf(infos, src);
    if (!on) throw precondition(`mount ${m.hostPath}: cannot find the host mount it is on`);
    if (m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL && !on.shared) {
      throw precondition(`path ${JSON.stringify(m.hostPath)} is mounted on ${JSON.stringify(on.mountPoint)} but it is not a shared mount (bidirectional propagation needs one)`);
    }
    if (m.propagation === MountPropagation.PROPAGATION_HOST_TO_CONTAINER && !on.shared && !on.slave) {
      throw precondition(`path ${JSON.stringify(m.hostPath)} is mounted on ${JSON.stringify(on.mountPoint)} but it is not a shared or slave mount (host-to-container propagation needs one)`);
    }
  }
}

/**
 * Recursive read-only mounts (recursive_read_only), which runc 1.1 and crun 1.8 cannot
 * make from the spec: the runtime binds them read-only as usual, then runs
 * `berth-monitor rro` as a createContainer hook, in the container's mount namespace
 * before pivot_root, to make each tree read-only all the way down (mount_setattr). In the
 * container's namespace, so the host's submounts stay free to be unmounted and removed.
 */
export function recursiveReadOnlyHook(c: ContainerConfig, rootfs: string, monitor: string | undefined): object | undefined {
  const dests = c.mounts.filter((m) => m.recursiveReadOnly && !isImageMount(m)).map((m) => m.containerPath);
  if (dests.length === 0) return undefined;
  if (!monitor) throw invalid('recursive read-only mounts need berth-monitor as the runtime hook');
  return { createContainer: [{ path: monitor, args: ['berth-monitor', 'rro', rootfs, ...dests] }] };
}
