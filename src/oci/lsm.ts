// AppArmor and SELinux from the CRI security context, on hosts that may lack them.
// This berth has no profile of its own to load, so (as containerd does on hosts without
// the LSM) RuntimeDefault and Unconfined run unconfined by the LSM; a Localhost AppArmor
// profile names one the node's administrator loaded, and is refused, saying why, when
// AppArmor is off. SELinux options are ignored when SELinux is off, as containerd and
// CRI-O do: charts set them portably (spc_t for CSI drivers) and must run anywhere; with
// SELinux on they go to the runtime as the label.
import { existsSync, readFileSync } from 'node:fs';
import { precondition } from '../errors.js';
import { type LinuxContainerSecurityContext, SecurityProfile_ProfileType } from '../gen/runtime/v1/api.js';

export interface HostLsm {
  apparmor: boolean;
  selinux: boolean;
}

export function hostLsm(): HostLsm {
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    /* not built in */
  }
  return { apparmor, selinux: existsSync('/sys/fs/selinux/enforce') };
}

/** process.apparmorProfile and process.selinuxLabel for the spec (each only when set). */
export function lsmFor(sc: LinuxContainerSecurityContext | undefined, host: HostLsm): { apparmorProfile?: string; selinuxLabel?: string } {
  const out: { apparmorProfile?: string; selinuxLabel?: string } = {};
  let local: string | undefined;
  if (sc?.apparmor) {
    if (sc.apparmor.profileType === SecurityProfile_ProfileType.Localhost) local = sc.apparmor.localhostRef;
  } else if (sc?.apparmorProfile?.startsWith('localhost/')) local = sc.apparmorProfile.slice('localhost/'.length);
  if (local !== undefined && !sc?.privileged) {
    if (!host.apparmor) throw precondition(`AppArmor profile ${JSON.stringify(local)} asked for, but AppArmor is not enabled on this node`);
    out.apparmorProfile = local;
  }
  const se = sc?.selinuxOptions;
  if (host.selinux && se && (se.user || se.role || se.type || se.level)) {
    out.selinuxLabel = [se.user || 'system_u', se.role || 'system_r', se.type || 'container_t', se.level || 's0'].join(':');
  }
  return out;
}
