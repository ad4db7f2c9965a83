// Pod user namespaces (CRI namespace_options.userns_options). A pod in its own user
// namespace needs its rootfs and volumes mapped into it: idmapped mounts, which the kernel
// here has (6.18) but the OCI runtime must apply (OCI 1.1 mount uidMappings; runc ≥ 1.2
// reports `linux.mountExtensions.idmap.enabled` in `runc features`). Debian 12's runc 1.1.5
// has none and crun 1.8.1 has no `features` to tell, so berth refuses such pods with the
// reason instead of silently running them in the host's user namespace, and advertises
// no user-namespace support in Status.
import { invalid, precondition } from '../errors.js';
import { NamespaceMode, type UserNamespace } from '../gen/runtime/v1/api.js';
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

/** Refuses a user-namespaced pod or container on `rt`, saying what is missing. */
export function refuseUserns(rt: OciRuntime): never {
  if (!rt.status.idmapMounts) {
    throw precondition(`runtime handler ${rt.handler} (${rt.status.version ?? rt.binary}, OCI ${rt.status.specVersion}) cannot run pods in a user namespace: it has no idmapped mounts (${rt.status.idmapReason ?? 'unknown'}), which map the pod's rootfs and volumes into it`);
  }
  throw precondition(`runtime handler ${rt.handler} has idmapped mounts, but berth does not set up pod user namespaces yet`);
}

/** From `<runtime> features` (OCI runtime-spec features.md): does it apply mount uidMappings? */
export function idmapFromFeatures(code: number, stdout: string, stderr: string): { idmap: boolean; reason?: string } {
  if (code !== 0) return { idmap: false, reason: `\`features\` failed: ${stderr.trim().split('\n')[0] || `exit ${code}`}` };
  try {
    const f = JSON.parse(stdout) as { linux?: { mountExtensions?: { idmap?: { enabled?: boolean } } } };
    if (f.linux?.mountExtensions?.idmap?.enabled === true) return { idmap: true };
    return { idmap: false, reason: '`features` lists no linux.mountExtensions.idmap' };
  } catch {
    return { idmap: false, reason: '`features` did not print JSON' };
  }
}
