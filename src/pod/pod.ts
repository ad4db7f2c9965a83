// The pod sandbox record and its state machine:
//
//   (RunPodSandbox) ──► creating ──► ready ──(StopPodSandbox)──► notready ──(RemovePodSandbox)──► gone
//
// "creating" is the intent record, written before the first step: a failed RunPodSandbox
// undoes every step and leaves no record; one interrupted by a crash is undone at start-up.
import os from 'node:os';
import type { PodSandboxConfig } from '../gen/runtime/v1/api.js';
import type { UsernsMaps } from '../oci/idmap.js';
import type { Unclaimed } from '../store/create-handoff.js';
import type { Stored } from '../store/object-store.js';

export interface PodRecord extends Stored {
  /** PodSandboxConfig in its proto-JSON form (PodSandboxConfig.toJSON). */
  config: unknown;
  state: 'creating' | 'ready' | 'notready';
  createdAt: string; // ns since epoch, as a decimal string (int64)
  runtimeHandler: string;
  /** Pinned namespace files; absent kinds are the host's. */
  namespaces: { network?: string; ipc?: string; uts?: string; pid?: string; user?: string };
  /** The pod's own user namespace (userns_options mode POD): its mappings; the views are in idmap.ts's podIdmapDir. */
  userns?: UsernsMaps;
  /** Host PID of the pause process (PID-sharing pods only). */
  pausePid?: number;
  cgroupPath: string;
  /** The pod's slice under the systemd cgroup driver (cgroupPath is then where systemd put it). */
  systemdSlice?: string;
  /** True when berth made the pod cgroup (the kubelet makes its own under cgroup_parent). */
  cgroupCreated: boolean;
  network?: { name: string; ips: string[]; attached: boolean };
  /** Directory with resolv.conf, hostname, hosts. */
  filesDir: string;
  /** The pod's /dev/shm, shared by its containers: a tmpfs at <filesDir>/shm, or the host's for host IPC. */
  shm?: string;
  hostNetwork: boolean;
  /** Run after its caller left and not claimed by a retry yet (store/create-handoff.ts). */
  unclaimed?: Unclaimed;
}

/** The CRI name key; JSON, so names containing the separator cannot alias each other. */
export function podNameKey(c: PodSandboxConfig): string {
  const m = c.metadata!;
  return JSON.stringify([m.name, m.namespace, m.uid, m.attempt]);
}

/**
 * The pod's hostname: the one the kubelet asks for, else the node's (as containerd and
 * CRI-O do; the pod name is no fallback, it may be longer than sethostname allows).
 */
export function podHostname(c: { hostname?: string }): string {
  return c.hostname || os.hostname();
}
