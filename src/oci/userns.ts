// Pod user namespaces (CRI namespace_options.userns_options, mode POD). The rootfs and
// volumes must be mapped into the pod's user namespace: idmapped mounts. Debian 12's
// runc 1.1.5 cannot make them (no OCI 1.1 mount uidMappings) and crun 1.8.1 has no
// `features` to tell, but both join a user namespace by path without writing its maps
// again. So berth makes the namespace itself (native userns.rs: the pod's net/ipc/uts are
// created inside it, so it owns them), idmaps what the container sees (src/oci/idmap.ts)
// and hands the runtime a spec that only joins. A handler gets user namespaces where a
// probe container really ran that way at start-up (userns-probe.ts); elsewhere such pods
// are refused with the probe's reason.
import { invalid, precondition } from '../errors.js';
import { type IDMapping, type Mount, NamespaceMode, type UserNamespace } from '../gen/runtime/v1/api.js';
import { hostIdOf, type UsernsMaps } from './idmap.js';
import type { OciRuntime } from './runtime.js';

/** The CRI's rules for userns_options (INVALID_ARGUMENT naming the field). */
export function checkUsernsOptions(field: string, u: UserNamespace | undefined): void {
  if (!u) return;
  if (u.mode !== NamespaceMode.POD && u.mode !== NamespaceMode.NODE) throw invalid(`${field}.mode ${NamespaceMode[u.mode] ?? u.mode}: a user namespace is POD or NODE only`);
  if (u.mode === NamespaceMode.NODE && (u.uids.length || u.gids.length)) throw invalid(`${field}: mode NODE (the host's user namespace) takes no uid/gid mappings`);
  if (u.mode === NamespaceMode.POD && (!u.uids.length || !u.gids.length)) throw invalid(`${field}: mode POD needs uid and gid mappings`);
}

/** Whether a request asks for its own user namespace (mode POD; absent or NODE is the host's). */
export const wantsUserns = (u: UserNamespace | undefined): boolean => !!u && u.mode === NamespaceMode.POD;

/** Refuses a user-namespaced pod on `rt`, saying why it cannot have one. */
export function refuseUserns(rt: OciRuntime): never {
  throw precondition(`runtime handler ${rt.handler} (${rt.status.version ?? rt.binary}) cannot run pods in a user namespace here: ${rt.status.usernsReason ?? 'not probed'}`);
}

const ranges = (m: IDMapping[]) => m.map((r) => ({ containerId: r.containerId, hostId: r.hostId, length: r.length }));
const sameRanges = (a: IDMapping[], b: UsernsMaps['uids']) => JSON.stringify(ranges(a)) === JSON.stringify(b);

/**
 * The pod's mappings, checked: a user namespace needs a mapped root (runc and crun
 * refuse one without, and the views are owned by it), ranges inside 32 bits, and no
 * host-user-namespace namespaces beside it (as Kubernetes' hostUsers=false rules: a
 * namespace owned by the host's user namespace is one the pod's root has no power over).
 */
export function podUsernsMaps(u: UserNamespace, host: { network: boolean; ipc: boolean; pid: boolean }): UsernsMaps {
  const field = 'linux.security_context.namespace_options.userns_options';
  const maps = { uids: ranges(u.uids), gids: ranges(u.gids) };
  for (const [kind, rs] of [['uids', maps.uids], ['gids', maps.gids]] as const) {
    for (const r of rs) {
      if (r.length < 1 || r.containerId + r.length > 2 ** 32 || r.hostId + r.length > 2 ** 32) throw invalid(`${field}.${kind}: range ${JSON.stringify(r)} is empty or beyond 32 bits`);
    }
    if (hostIdOf(rs, 0) === undefined) throw invalid(`${field}.${kind}: container id 0 (root) must be mapped`);
  }
  const shared = Object.entries(host).filter(([, v]) => v).map(([k]) => k);
  if (shared.length) throw invalid(`${field}: a pod in its own user namespace cannot use the host's ${shared.join('/')} namespace`);
  return maps;
}

/**
 * A container of a user-namespaced pod joins the pod's namespace: the container may leave
 * userns_options unset, or repeat the pod's (what the kubelet sends); anything else is refused.
 */
export function checkContainerUserns(u: UserNamespace | undefined, pod: UsernsMaps | undefined): void {
  if (!u) return;
  if (u.mode === NamespaceMode.POD && !pod) throw invalid('userns_options: the container asks for the pod\'s user namespace, but its pod sandbox runs in the host\'s');
  if (u.mode === NamespaceMode.NODE && pod) throw invalid('userns_options: the container asks for the host\'s user namespace, but its pod sandbox has its own');
  if (pod && (!sameRanges(u.uids, pod.uids) || !sameRanges(u.gids, pod.gids))) throw invalid('userns_options: the container\'s mappings differ from its pod sandbox\'s');
}

/**
 * Per-mount ID mappings (CRI Mount.uid_mappings/gid_mappings). A user-namespaced pod's host
 * paths are all idmapped with the pod's own mappings (src/container/container-userns.ts),
 * which is what a mount naming those asks for. Any other mappings, or mappings on a mount
 * of a pod in the host's user namespace, would need an idmapped mount of their own, which
 * Debian's runc 1.1.5 cannot make and berth does not: refused, never silently ignored.
 */
export function checkMountMappings(mounts: Mount[], pod: UsernsMaps | undefined): void {
  mounts.forEach((m, i) => {
    if (m.uidMappings.length === 0 && m.gidMappings.length === 0) return;
    const field = `mounts[${i}] (${m.containerPath})`;
    if (!pod) throw invalid(`${field}: uid/gid mappings on a mount are supported only in a pod with its own user namespace (they are the pod's)`);
    if (!sameRanges(m.uidMappings, pod.uids) || !sameRanges(m.gidMappings, pod.gids)) {
      throw invalid(`${field}: uid/gid mappings other than the pod sandbox's are not supported (the pod's host paths are idmapped with the pod's)`);
    }
  });
}

/** The OCI spec's part: join the pinned user namespace; the mappings say what it is. */
export function usernsSpec(pin: string, maps: UsernsMaps): { namespace: { type: string; path: string }; uidMappings: object[]; gidMappings: object[] } {
  const oci = (rs: UsernsMaps['uids']) => rs.map((r) => ({ containerID: r.containerId, hostID: r.hostId, size: r.length }));
  return { namespace: { type: 'user', path: pin }, uidMappings: oci(maps.uids), gidMappings: oci(maps.gids) };
}
