// Pod sandboxes: pinned namespaces (no infra process), a pod cgroup, CNI networking and
// the pod's resolv.conf/hostname/hosts. Every step of a run is undone if a later one fails.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Cni } from '../cni/cni.js';
import type { ContainerService } from '../container/container-service.js';
import { BerthError, invalid, precondition, wrap } from '../errors.js';
import { type LinuxContainerResources, NamespaceMode, PodSandboxConfig } from '../gen/runtime/v1/api.js';
import type { Logger } from '../log.js';
import { native } from '../native/index.js';
import { type CgroupDriverName, DEFAULT_SLICE, driverProblem, expandSlice } from '../oci/cgroup-driver.js';
import { ociResources } from '../oci/resource-update.js';
import { openPathToViews, podIdmapDir, sweepIdmapDirs, type UsernsMaps } from '../oci/idmap.js';
import { unmountAndRemove } from '../oci/unmount-tree.js';
import { podUsernsMaps, refuseUserns, wantsUserns } from '../oci/userns.js';
import { validateSysctls } from '../oci/spec.js';
import type { RuntimeRegistry } from '../oci/runtime-registry.js';
import { type Caller, CreateHandoff, present } from '../store/create-handoff.js';
import { handoffRecords } from '../store/handoff-records.js';
import type { ObjectStore } from '../store/object-store.js';
import { newId } from '../store/records.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { Phases } from '../util/phases.js';
import { cmdlineIncludes } from '../util/procfs.js';
import { nowNs } from '../util/time.js';
import { startPause, stopPause } from './pause.js';
import { podCgroupSettings } from './pod-resources.js';
import { writePodFiles } from './pod-files.js';
import { podNetArgs, validatePortMappings } from './pod-net.js';
import type { LifecycleEvents } from '../util/lifecycle-events.js';
import { podHostname, podNameKey, type PodRecord } from './pod.js';
import { makePodViews } from './pod-userns.js';

/** Size of a pod's /dev/shm, as Docker, containerd and CRI-O default it (the CRI has no field for it). */
const POD_SHM_BYTES = 64 * 1024 * 1024;

export interface PodServiceDeps {
  store: ObjectStore<PodRecord>;
  containers: ContainerService;
  cni: Cni;
  runtimes: RuntimeRegistry;
  runtimeDir: string;
  /** The image store's layers (a user-namespaced pod's containers see them through an idmapped view). */
  layersDir: string;
  cgroupRoot: string;
  cgroupDriver: CgroupDriverName;
  /** How long a pod created after its caller left waits for the retry (create-handoff.ts). */
  unclaimedGraceMs: number;
  events: LifecycleEvents;
  log: Logger;
}

export class PodService {
  private readonly lock = new KeyedLock();
  private readonly handoff: CreateHandoff;

  constructor(private readonly d: PodServiceDeps) {
    this.handoff = new CreateHandoff('pod', d.unclaimedGraceMs, d.log, handoffRecords(d.store));
  }

  /** Stops the unclaimed-create timers (berthd shutting down). */
  close(): void {
    this.handoff.close();
  }

  private netArgs(pod: PodRecord, cfg: PodSandboxConfig) {
    return podNetArgs(pod, cfg);
  }

  config(pod: PodRecord): PodSandboxConfig {
    return PodSandboxConfig.fromJSON(pod.config);
  }

  /**
   * RunPodSandbox. A kubelet retry of a run that finished (or is still running) after the
   * kubelet gave up gets that pod (same name, attempt, config and handler) instead of a
   * name conflict; one no retry claims is removed after the grace period.
   */
  async run(cfg: PodSandboxConfig, handlerName: string, caller: Caller = present): Promise<PodRecord> {
    const fingerprint = JSON.stringify([PodSandboxConfig.toJSON(cfg), handlerName]);
    const id = await this.handoff.create(podNameKey(cfg), fingerprint, caller, async () => (await this.runNew(cfg, handlerName)).id, (id) => this.remove(id));
    return this.d.store.get(id);
  }

  /**
   * Where the pod's cgroup is, from the kubelet's cgroup_parent: with cgroupfs an absolute
   * path (none: berth makes one under cgroup_root, `path` undefined); with systemd a slice,
   * whose directory systemd owns (none: system.slice).
   */
  private podCgroup(parent: string): { path?: string; slice?: string } {
    const problem = driverProblem(this.d.cgroupDriver);
    if (problem) throw precondition(problem);
    if (this.d.cgroupDriver === 'systemd') {
      const slice = parent || DEFAULT_SLICE;
      return { path: expandSlice(slice), slice };
    }
    if (parent.endsWith('.slice')) throw invalid(`cgroup_parent ${JSON.stringify(parent)} is a systemd slice, but berth's cgroup_driver is "cgroupfs" (the kubelet's --cgroup-driver must match RuntimeConfig)`);
    if (parent && (!parent.startsWith('/') || parent.split('/').includes('..'))) throw invalid(`cgroup_parent ${JSON.stringify(parent)} must be an absolute cgroupfs path`);
    return { path: parent || undefined };
  }

  private async runNew(cfg: PodSandboxConfig, handlerName: string): Promise<PodRecord> {
    // The RPC edge (src/cri/validate.ts) has checked metadata, names and paths.
    const m = cfg.metadata!;
    const rt = this.d.runtimes.get(handlerName);
    rt.ensureReady();
    const nsOpts = cfg.linux?.securityContext?.namespaceOptions;
    const hostNetwork = nsOpts?.network === NamespaceMode.NODE;
    const hostIpc = nsOpts?.ipc === NamespaceMode.NODE;
    let userns: UsernsMaps | undefined;
    if (wantsUserns(nsOpts?.usernsOptions)) {
      userns = podUsernsMaps(nsOpts!.usernsOptions!, { network: hostNetwork, ipc: hostIpc, pid: nsOpts?.pid === NamespaceMode.NODE });
      if (!rt.status.userns) refuseUserns(rt);
      await openPathToViews(this.d.runtimeDir);
    }
    validateSysctls(cfg.linux?.sysctls ?? {}, hostNetwork, hostIpc);
    if (!hostNetwork) validatePortMappings(cfg);
    const cg = this.podCgroup(cfg.linux?.cgroupParent ?? '');

    const id = newId();
    const nameKey = podNameKey(cfg);
    this.d.store.reserve(nameKey, id);
    const log = this.d.log.child({ pod: id.slice(0, 12), name: m.name, namespace: m.namespace });
    const runDir = path.join(this.d.runtimeDir, 'pods', id);
    const pod: PodRecord = {
      id,
      nameKey,
      config: PodSandboxConfig.toJSON(cfg),
      state: 'creating',
      createdAt: nowNs(),
      runtimeHandler: rt.handler,
      namespaces: {},
      cgroupPath: cg.path ?? `${this.d.cgroupRoot}/pod-${id}`,
      ...(cg.slice ? { systemdSlice: cg.slice } : {}),
      cgroupCreated: !cg.path,
      filesDir: runDir,
      hostNetwork,
      ...(userns ? { userns } : {}),
    };
    const phases = new Phases();
    return this.lock.run(id, async () => {
      try {
        // The intent record: what a crash from here on leaves is undone at start-up. Written
        // first (a crash of berthd keeps it); made durable while the namespaces are made,
        // and awaited before CNI ADD, whose IPAM allocation outlives a crash of the host.
        await this.d.store.save(pod);
        const durable = this.d.store.sync(pod);
        durable.catch(() => undefined); // awaited below; a failure before then is not unhandled
        const kinds = [...(hostNetwork ? [] : ['net', 'uts']), ...(hostIpc ? [] : ['ipc'])];
        // A user namespace is made first and owns the others (native userns.rs says why).
        const pins = userns
          ? await native.pinUserNamespace(path.join(runDir, 'ns'), kinds, podHostname(cfg), userns.uids, userns.gids)
          : kinds.length
            ? await native.pinNamespaces(path.join(runDir, 'ns'), kinds, hostNetwork ? null : podHostname(cfg))
            : [];
        for (const p of pins) {
          const kind = path.basename(p);
          if (kind === 'user') pod.namespaces.user = p;
          if (kind === 'net') pod.namespaces.network = p;
          if (kind === 'ipc') pod.namespaces.ipc = p;
          if (kind === 'uts') pod.namespaces.uts = p;
        }
        phases.mark('namespaces');
        // One /dev/shm per pod, like its IPC namespace (POSIX shared memory lives there);
        // a host-IPC pod shares the host's. Unmounted by release() whatever the record says.
        if (hostIpc) pod.shm = '/dev/shm';
        else {
          pod.shm = path.join(runDir, 'shm');
          await fs.mkdir(pod.shm, { recursive: true });
          native.mountShm(pod.shm, POD_SHM_BYTES);
        }
        // NamespaceMode POD (the proto default) for PID: one PID namespace for the pod.
        if ((nsOpts?.pid ?? NamespaceMode.POD) === NamespaceMode.POD) {
          const pid = await startPause(runDir, pod.namespaces.user);
          const pin = path.join(runDir, 'ns', 'pid');
          await fs.mkdir(path.dirname(pin), { recursive: true });
          native.pinExistingNamespace(`/proc/${pid}/ns/pid`, pin);
          pod.pausePid = pid;
          pod.namespaces.pid = pin;
          await this.d.store.save(pod); // so a crash from here on still ends the pause process
          phases.mark('pause');
        }
        if (pod.cgroupCreated) {
          native.cgroupCreate(pod.cgroupPath);
          phases.mark('cgroup');
        }
        let ips: string[] = [];
        await durable;
        if (!hostNetwork) {
          const net = await this.d.cni.add(this.netArgs(pod, cfg));
          pod.network = { name: net.network, ips: net.ips, attached: true };
          ips = net.ips;
          phases.mark('cni');
        }
        await writePodFiles(runDir, podHostname(cfg), cfg.dnsConfig, ips);
        if (userns) {
          await makePodViews(pod, this.d.runtimeDir, this.d.layersDir);
          phases.mark('idmap');
        }
        pod.state = 'ready';
        await this.d.store.save(pod);
        phases.mark('record');
        log.info({ ips, handler: rt.handler, ms: phases.ms }, 'pod sandbox ready');
        // containerd announces a sandbox as created, then started; the kubelet's evented PLEG expects both.
        this.d.events.emit(pod.id, pod.id, 'created');
        this.d.events.emit(pod.id, pod.id, 'started');
        return pod;
      } catch (e) {
        // A failed run is undone the way a crashed one is at start-up: from the record.
        await this.release(pod).catch((u: Error) => log.error({ err: u.message }, 'undoing a failed RunPodSandbox failed'));
        await this.d.store.delete(pod).catch(() => undefined);
        throw wrap(e, `run pod sandbox ${m.namespace}/${m.name}`);
      }
    });
  }

  /**
   * Releases everything a pod holds on the host, from its record alone and idempotently:
   * the pause process, CNI attachments (from the cache), namespace pins, cgroup, files,
   * then the record. One mechanism for RemovePodSandbox, a failed RunPodSandbox and one
   * a crash interrupted. Every step is tried; the first failure is thrown, the record kept.
   */
  private async release(pod: PodRecord): Promise<void> {
    const ns = path.join(pod.filesDir, 'ns');
    const netArgs = this.netArgs({ ...pod, namespaces: { ...pod.namespaces, network: path.join(ns, 'net') } }, this.config(pod));
    const steps: Array<() => unknown> = [
      () => pod.pausePid && stopPause(pod.pausePid, path.join(ns, 'pid')),
      () => this.d.cni.delAll(netArgs),
      // Before anything it shows is removed: the views (and its containers' left-overs) go first.
      () => pod.userns && unmountAndRemove(podIdmapDir(this.d.runtimeDir, pod.id)),
      ...['net', 'ipc', 'uts', 'pid', 'user'].map((kind) => () => native.unpinNamespace(path.join(ns, kind))),
      () => native.unmount(path.join(pod.filesDir, 'shm')),
      () => pod.cgroupCreated && native.cgroupRemove(pod.cgroupPath),
      () => fs.rm(pod.filesDir, { recursive: true, force: true }),
    ];
    let first: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
    await this.d.store.delete(pod);
  }

  /**
   * Start-up: a ready pod whose pinned namespaces or pause process are gone (a reboot
   * empties the runtime dir) cannot run containers any more: it becomes notready, and
   * Stop/Remove still release its network and cgroup.
   */
  /**
   * UpdatePodSandboxResources: the pod must exist and the resources must be valid. A pod
   * cgroup berth made (no cgroup_parent) gets the new sum plus overhead written to it; one
   * the kubelet owns (under cgroup_parent) it has already resized itself.
   */
  async updateResources(id: string, overhead: LinuxContainerResources | undefined, resources: LinuxContainerResources | undefined): Promise<void> {
    const pod = this.d.store.get(id);
    const v2 = native.cgroupInfo().mode === 'v2';
    const [o, r] = [overhead, resources].map((x) => (x ? ociResources(x, { cgroupV2: v2 }) : undefined));
    if (pod.cgroupCreated && pod.state === 'ready') {
      const settings = podCgroupSettings(resources, overhead, v2);
      try {
        native.cgroupSet(pod.cgroupPath, settings);
      } catch (e) {
        // E.g. a memory limit below what the pod uses now (EBUSY): the caller's request, not berth, is at fault.
        throw precondition(`pod ${pod.id}: cannot apply the resources to its cgroup: ${(e as Error).message}`);
      }
    }
    this.d.log.info({ pod: pod.id.slice(0, 12), overhead: o, resources: r, applied: pod.cgroupCreated }, 'pod sandbox resources updated');
  }

  async reconcile(): Promise<void> {
    for (const pod of this.d.store.list()) {
      if (pod.state === 'creating') {
        await this.release(pod);
        this.d.log.warn({ pod: pod.id.slice(0, 12) }, 'undid a RunPodSandbox interrupted by a crash');
        continue;
      }
      // Kept for a kubelet retry when berthd stopped: it waits out the rest of its grace here.
      if (pod.unclaimed) this.handoff.adopt(pod.nameKey, pod.id, pod.unclaimed, (id) => this.remove(id));
      if (pod.state !== 'ready') continue;
      const pinsGone = Object.values(pod.namespaces).some((p) => !existsSync(p));
      const pauseGone = !!pod.pausePid && !cmdlineIncludes(pod.pausePid, pod.filesDir);
      if (pinsGone || pauseGone) {
        pod.state = 'notready';
        await this.d.store.save(pod);
        this.d.log.warn({ pod: pod.id.slice(0, 12), pinsGone, pauseGone }, 'pod sandbox lost its namespaces; now notready');
      }
    }
    const swept = await sweepIdmapDirs(this.d.runtimeDir, this.d.store.list().map((p) => p.id));
    if (swept.length) this.d.log.warn({ dirs: swept }, 'released idmapped views no pod owns (a RunPodSandbox or removal cut short by a crash)');
  }

  /** CNI CHECK of the pod's attachment: '' when it is as ADD left it, else what the plugin found. */
  async checkNetwork(pod: PodRecord): Promise<string> {
    if (!pod.network?.attached) return 'not attached';
    try {
      await this.d.cni.check(pod.network.name, this.netArgs(pod, this.config(pod)));
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** The CNI attachments that live pods hold (for CNI GC: everything else may go). */
  attachments(): Array<{ containerId: string }> {
    return this.d.store.list().filter((p) => p.network?.attached).map((p) => ({ containerId: p.id }));
  }

  /** Stops every container and releases the network; idempotent. */
  /** Idempotent: an unknown, stopped or removed pod is not an error (critest's Idempotence specs). */
  async stop(id: string): Promise<void> {
    const pod = this.d.store.find(id);
    if (!pod) return;
    // Re-checked under the lock: a concurrent RemovePodSandbox may have won.
    return this.lock.run(pod.id, async () => {
      const now = this.d.store.find(pod.id);
      if (now) await this.stopLocked(now);
    });
  }

  private async stopLocked(pod: PodRecord): Promise<void> {
    for (const c of this.d.containers.inPod(pod.id)) {
      // A container removed concurrently is as stopped as it gets.
      await this.d.containers.stop(c.id, 0).catch((e: unknown) => {
        if (!(e instanceof BerthError && e.kind === 'NotFound')) throw e;
      });
    }
    if (pod.pausePid && pod.namespaces.pid) await stopPause(pod.pausePid, pod.namespaces.pid);
    if (pod.network?.attached) {
      await this.d.cni.del(pod.network.name, this.netArgs(pod, this.config(pod))).catch((e: Error) => {
        throw wrap(e, `stop pod sandbox ${pod.id}`);
      });
      pod.network.attached = false;
    }
    const stopping = pod.state !== 'notready';
    if (stopping) {
      pod.state = 'notready';
      this.d.log.info({ pod: pod.id.slice(0, 12) }, 'pod sandbox stopped');
    }
    await this.d.store.save(pod);
    if (stopping) this.d.events.emit(pod.id, pod.id, 'stopped');
  }

  /** Stops and removes the pod with its containers, namespaces, cgroup and records; idempotent. */
  async remove(id: string): Promise<void> {
    const pod = this.d.store.find(id);
    if (!pod) return;
    return this.lock.run(pod.id, () => this.removeLocked(pod));
  }

  private async removeLocked(pod: PodRecord): Promise<void> {
    if (!this.d.store.find(pod.id)) return; // removed while we waited for the lock
    await this.stopLocked(pod);
    for (const c of this.d.containers.inPod(pod.id)) await this.d.containers.remove(c.id);
    await this.release(pod);
    this.d.events.emit(pod.id, pod.id, 'deleted');
    this.d.log.info({ pod: pod.id.slice(0, 12) }, 'pod sandbox removed');
  }
}
