// The container record and its state machine:
//
//   (CreateContainer) ──► created ──(StartContainer)──► running ──(exit / StopContainer)──► exited
//        created ──(StopContainer: stopped before start)──► exited;  any ──(RemoveContainer)──► gone
//        created ──(StartContainer fails in the runtime)──► exited (StartError)
//
// As in containerd, CreateContainer prepares (rootfs, spec, record) and StartContainer runs
// the monitor, which runs `<runtime> run --detach`: one runtime process per start instead
// of `create` then `start`. A created container has no monitor and nothing in the runtime.
//
// "exited" is learnt from the exit file the monitor writes, so it is true even when the
// container ended while berthd was not looking.
import type { ProcessUser } from '../oci/users.js';
import type { Unclaimed } from '../store/create-handoff.js';
import type { Stored } from '../store/object-store.js';
import type { ImageVolume } from './image-volumes.js';

export interface ContainerRecord extends Stored {
  podId: string;
  /** ContainerConfig in proto-JSON form. */
  config: unknown;
  imageId: string;
  /** The image as the caller named it. */
  imageName: string;
  state: 'created' | 'running' | 'exited';
  createdAt: string; // int64 ns as decimal strings
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  pid: number;
  monitorPid: number;
  logPath: string;
  runtimeHandler: string;
  /** <runtimeDir>/containers/<id>: config.json, rootfs (overlay merged), exit, pid. */
  bundle: string;
  /** <root>/containers/<id>: the writable layer (upper, work). */
  layerDir: string;
  cgroupsPath: string;
  stopSignal: string;
  reason: string;
  message?: string;
  /** The identity the container's processes run as (ContainerStatus.user). */
  user?: ProcessUser;
  /** A user-namespaced pod's container: where its rootfs and idmapped views are (released on removal). */
  idmapDir?: string;
  /** Image volumes mounted for it (unmounted on removal). */
  imageVolumes?: ImageVolume[];
  /** Where the log is created beneath (the pod's log directory, or the bundle). */
  logRoot?: string;
  /** StartContainer is under way: set before the monitor is spawned (a crash then is undone at start-up). */
  starting?: boolean;
  /** Created after its caller left and not claimed by a retry yet (store/create-handoff.ts). */
  unclaimed?: Unclaimed;
}

/** Unique per pod (a pod's key is part of it); JSON, so no two names can alias. */
export function containerNameKey(name: string, attempt: number, podNameKey: string): string {
  return JSON.stringify([name, attempt, podNameKey]);
}
