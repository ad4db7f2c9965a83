// Containers: CreateContainer makes the overlay rootfs from the image's layers and
// config.json from the CRI config merged with the image config; StartContainer spawns a
// detached berth-monitor that runs `<runtime> run --detach` and owns stdio, logs and the
// exit status (container.ts says why); stop/remove/exec through the runtime.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { deadline, internal, invalid, notFound, precondition, wrap } from '../errors.js';
import { ContainerConfig, type LinuxContainerResources } from '../gen/runtime/v1/api.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log.js';
import { monitorPath, native } from '../native/index.js';
import { containerCgroup } from '../oci/cgroup-driver.js';
import { keepSwapAllowance, mergeResources, ociResources } from '../oci/resource-update.js';
import { cgroupCaps } from '../oci/resources.js';
import { startStreamingExec, type StreamingExec } from '../oci/exec-stream.js';
import { generateSpec } from '../oci/spec.js';
import { containerIdmapDir, podIdmapDir } from '../oci/idmap.js';
import { unmountAndRemove } from '../oci/unmount-tree.js';
import { checkContainerUserns, checkMountMappings, usernsSpec } from '../oci/userns.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { RuntimeRegistry } from '../oci/runtime-registry.js';
import { podHostname, type PodRecord } from '../pod/pod.js';
import { layersView, podFileSources, podRoot } from '../pod/pod-userns.js';
import type { ObjectStore } from '../store/object-store.js';
import { type Caller, CreateHandoff, present } from '../store/create-handoff.js';
import { handoffRecords } from '../store/handoff-records.js';
import { newId } from '../store/records.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { LifecycleEvents } from '../util/lifecycle-events.js';
import { Phases } from '../util/phases.js';
import { cmdlineIncludes, holdsFile, pidsWithArg, processAlive, signalBlocked } from '../util/procfs.js';
import { nowNs, rfc3339ToNs } from '../util/time.js';
import { Rollback } from '../util/rollback.js';
import { type AttachSession, connectAttach } from './attach-client.js';
import { containerNameKey, type ContainerRecord } from './container.js';
import { unmountImageVolumes } from './image-volumes.js';
import { sweepOrphanBundles } from './orphans.js';
import { checkLogPath, gatherSpecInputs } from './spec-inputs.js';
import { hostPathViews, refusePropagation } from './container-userns.js';
import { startMonitor } from './monitor.js';
import { checkCommand } from '../oci/command-check.js';
import { injectedCreateDelay } from '../util/test-delay.js';

export interface ContainerServiceDeps {
  store: ObjectStore<ContainerRecord>;
  pods: ObjectStore<PodRecord>;
  images: ImageService;
  runtimes: RuntimeRegistry;
  runtimeDir: string;
  root: string;
  boundingCaps: string[];
  minOomScoreAdj: number;
  createTimeoutMs: number;
  /** How long a container created after its caller left waits for the retry (create-handoff.ts). */
  unclaimedGraceMs: number;
  events: LifecycleEvents;
  log: Logger;
}

/** True when a concurrent refresh recorded the exit while this one awaited (emit once). */
const exitedMeanwhile = (c: ContainerRecord) => c.state === 'exited';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ContainerService {
  private readonly lock = new KeyedLock();
  /** What the host's cgroups take (hugetlb, v2 `unified`): read once, it does not change. */
  private readonly cgroupCaps = cgroupCaps(native.cgroupInfo());
  private readonly handoff: CreateHandoff;

  constructor(private readonly d: ContainerServiceDeps) {
    this.handoff = new CreateHandoff('container', d.unclaimedGraceMs, d.log, handoffRecords(d.store));
  }

  config(c: ContainerRecord): ContainerConfig {
    return ContainerConfig.fromJSON(c.config);
  }

  /** Stops the unclaimed-create timers (berthd shutting down). */
  close(): void {
    this.handoff.close();
  }

  inPod(podId: string): ContainerRecord[] {
    return this.d.store.list().filter((c) => c.podId === podId);
  }

  imageInUse(imageId: string): boolean {
    return this.d.store.list().some((c) => c.imageId === imageId || !!c.imageVolumes?.some((v) => v.imageId === imageId));
  }

  private exitFile(c: ContainerRecord): string {
    return path.join(c.bundle, 'exit');
  }

  private monitorAlive(c: ContainerRecord): boolean {
    return cmdlineIncludes(c.monitorPid, c.id);
  }

  private async readExit(c: ContainerRecord): Promise<{ exitCode: number; exitedAt: string; oomKilled?: boolean } | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.exitFile(c), 'utf8')) as { exitCode: number; exitedAt: string; oomKilled?: boolean };
    } catch {
      return undefined;
    }
  }

  /**
   * Folds the monitor's exit file into the record (the container may have ended any time).
   * If the monitor is gone without one (it was killed, or the host rebooted) and the
   * container process is gone too, the exit can no longer be observed: the container is
   * recorded as exited with `lostCode` and says so, instead of staying "running" forever.
   */
  async refresh(c: ContainerRecord, lostCode = 255): Promise<ContainerRecord> {
    if (c.state === 'exited') return c;
    let exit = await this.readExit(c);
    if (!exit && c.monitorPid && !this.monitorAlive(c)) {
      exit = await this.readExit(c); // the monitor may have written it just before exiting
      if (!exit && !processAlive(c.pid)) {
        if (exitedMeanwhile(c)) return c;
        c.state = 'exited';
        c.exitCode = lostCode;
        c.finishedAt = nowNs();
        c.reason = 'Unknown';
        c.message = 'berth-monitor is gone, so the exit status was not observed';
        await this.d.store.save(c);
        this.d.events.emit(c.id, c.podId, 'stopped');
        return c;
      }
    }
    if (!exit || exitedMeanwhile(c)) return c;
    c.state = 'exited';
    c.exitCode = exit.exitCode;
    c.finishedAt = rfc3339ToNs(exit.exitedAt);
    // The monitor saw the memory cgroup's OOM-kill counter rise (monitor/src/oom.rs). A
    // container that still exited 0 (a child was killed, init coped) did complete.
    c.reason = exit.exitCode === 0 ? 'Completed' : exit.oomKilled ? 'OOMKilled' : 'Error';
    await this.d.store.save(c);
    this.d.events.emit(c.id, c.podId, 'stopped');
    return c;
  }

  /**
   * Start-up: every container's state against what is really there. A record still
   * `starting` is a StartContainer that a crash cut short: it is undone (its monitor,
   * found by its bundle argument, is ended with its process group, and the runtime's
   * container deleted), so the container is created again and a retry starts it. (A
   * CreateContainer cut short leaves no record: its bundle and directory are swept.)
   */
  async reconcile(): Promise<void> {
    for (const c of this.d.store.list()) {
      if (c.state === 'created' && c.starting) {
        for (const pid of pidsWithArg(c.bundle)) {
          try {
            process.kill(-pid, 'SIGKILL'); // the monitor leads its own process group (setsid)
          } catch {
            /* gone */
          }
        }
        await this.d.runtimes.get(c.runtimeHandler).delete(c.id).catch((e: Error) => this.d.log.error({ container: c.id.slice(0, 12), err: e.message }, 'runtime delete of an interrupted start failed'));
        for (const f of [this.exitFile(c), path.join(c.bundle, 'pid')]) await fs.rm(f, { force: true });
        delete c.starting;
        Object.assign(c, { pid: 0, monitorPid: 0 });
        await this.d.store.save(c);
        this.d.log.warn({ container: c.id.slice(0, 12) }, 'undid a StartContainer interrupted by a crash: the container is created again');
        continue;
      }
      await this.refresh(c);
      // Kept for a kubelet retry when berthd stopped: it waits out the rest of its grace here.
      if (c.unclaimed) this.handoff.adopt(c.nameKey, c.id, c.unclaimed, (id) => this.discard(id));
    }
    await sweepOrphanBundles(path.join(this.d.runtimeDir, 'containers'), new Set(this.d.store.list().map((c) => c.id)), this.d.log);
  }

  /**
   * While someone listens for events (GetContainerEvents), notices exits as they happen:
   * the monitor writes its exit file, and the next refresh (within `everyMs`) records it
   * and emits the stopped event. Without listeners, exits are folded in lazily by reads.
   */
  watchExits(everyMs = 1000): () => void {
    const timer = setInterval(() => {
      if (!this.d.events.listening) return;
      for (const c of this.d.store.list()) {
        if (c.state === 'running') void this.refresh(c).catch((e: Error) => this.d.log.warn({ container: c.id.slice(0, 12), err: e.message }, 'exit check failed'));
      }
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  async get(id: string): Promise<ContainerRecord> {
    return this.refresh(this.d.store.get(id));
  }

  /**
   * Where the container log goes: `log_path` beneath the pod's log directory (both checked
   * at the RPC edge). berth-monitor creates it beneath `root` without following symlinks.
   */
  private logPath(pod: PodRecord, cfg: ContainerConfig, bundle: string): { root: string; rel: string } {
    const dir = (pod.config as { logDirectory?: string }).logDirectory ?? '';
    // As containerd does: without both a pod log directory and a log path, the log stays in the bundle.
    if (!cfg.logPath || !dir) return { root: bundle, rel: 'container.log' };
    return { root: dir, rel: path.normalize(cfg.logPath) };
  }

  /**
   * A 0700 directory for sockets, directly under the runtime dir: a socket path must fit
   * in 108 bytes, which <runtimeDir>/containers/<64-hex id>/... may not.
   */
  private async socketDir(kind: 'console' | 'attach'): Promise<string> {
    const dir = path.join(this.d.runtimeDir, kind);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  attachSocket(id: string): string {
    return path.join(this.d.runtimeDir, 'attach', id);
  }

  /**
   * CreateContainer. A kubelet retry of a create that finished (or is still running) after
   * the kubelet gave up gets that container (same pod, name, attempt and config) instead
   * of a name conflict; one no retry claims is removed after the grace period.
   */
  async create(podId: string, cfg: ContainerConfig, caller: Caller = present): Promise<ContainerRecord> {
    const pod = this.d.pods.get(podId);
    const meta = cfg.metadata!;
    const key = containerNameKey(meta.name, meta.attempt, pod.nameKey);
    const fingerprint = JSON.stringify([pod.id, ContainerConfig.toJSON(cfg)]);
    const id = await this.handoff.create(key, fingerprint, caller, async () => (await this.createNew(pod, cfg)).id, (id) => this.discard(id));
    return this.d.store.get(id);
  }

  /** An unclaimed create: nobody uses it. */
  private async discard(id: string): Promise<void> {
    await this.stop(id, 0);
    await this.remove(id);
  }

  private async createNew(pod: PodRecord, cfg: ContainerConfig): Promise<ContainerRecord> {
    // The RPC edge (src/cri/validate.ts) has checked metadata, name, image and log path.
    const meta = cfg.metadata!;
    const imageRef = cfg.image!.image;
    if (pod.state !== 'ready') throw precondition(`pod sandbox ${pod.id} is not ready`);
    const image = this.d.images.find(imageRef);
    if (!image) throw notFound(`image ${imageRef} not found: pull it first`);
    const rt = this.d.runtimes.get(pod.runtimeHandler);
    rt.ensureReady();
    checkContainerUserns(cfg.linux?.securityContext?.namespaceOptions?.usernsOptions, pod.userns);
    checkMountMappings(cfg.mounts, pod.userns);
    if (pod.userns) refusePropagation(cfg);

    const id = newId();
    const nameKey = containerNameKey(meta.name, meta.attempt, pod.nameKey);
    this.d.store.reserve(nameKey, id);
    const log = this.d.log.child({ container: id.slice(0, 12), pod: pod.id.slice(0, 12), name: meta.name });
    const rb = new Rollback(log, { container: id });
    rb.push('release name', () => this.d.store.release(nameKey, id));
    const bundle = path.join(this.d.runtimeDir, 'containers', id);
    const layerDir = this.d.store.recordDir(id);
    // A user-namespaced container's rootfs and views are where its root can reach them (idmap.ts).
    const views = pod.userns ? containerIdmapDir(podIdmapDir(this.d.runtimeDir, pod.id), id) : undefined;
    const rootfs = path.join(views ?? bundle, 'rootfs');
    const owner = pod.userns && podRoot(pod.userns);
    // The kubelet creates by image ID and names the image it was asked for in
    // user_specified_image; status reports that name (the pod's status.image, which the
    // kubelet compares with the spec), as CRI-O and containerd do.
    const imageName = cfg.image!.userSpecifiedImage || (imageRef === image.id || image.id.endsWith(imageRef) ? (image.repoTags[0] ?? imageRef) : imageRef);
    const cgroup = containerCgroup(pod, id);
    const rec: ContainerRecord = {
      id, nameKey, podId: pod.id, config: ContainerConfig.toJSON(cfg), imageId: image.id, imageName,
      state: 'created', createdAt: nowNs(), startedAt: '0', finishedAt: '0', exitCode: 0, pid: 0, monitorPid: 0,
      logPath: '', runtimeHandler: rt.handler, bundle, layerDir, cgroupsPath: cgroup.path,
      stopSignal: image.config.StopSignal || 'SIGTERM', reason: '', ...(views ? { idmapDir: views } : {}),
    };
    const phases = new Phases();
    try {
      const logFile = this.logPath(pod, cfg, bundle);
      rec.logPath = path.join(logFile.root, logFile.rel);
      rec.logRoot = logFile.root;
      rb.push('remove bundle', () => fs.rm(bundle, { recursive: true, force: true }));
      rb.push('remove writable layer', () => fs.rm(layerDir, { recursive: true, force: true }));
      if (views) rb.push('release idmapped views', async () => {
        await unmountAndRemove(views);
      });
      for (const d of [bundle, rootfs, path.join(layerDir, 'upper'), path.join(layerDir, 'work')]) await fs.mkdir(d, { recursive: true });
      checkLogPath(logFile.root, logFile.rel);
      // The pod's idmapped view of the layer store shows image files owned by the pod's
      // root. The writable layer is not idmapped (overlayfs writes its upper layer with
      // the mounter's credentials, host root, which no idmap maps): it holds host ids,
      // starting with its root directory, owned by the pod's root.
      if (owner) await fs.chown(path.join(layerDir, 'upper'), owner.uid, owner.gid);
      const diff = (chainId: string) =>
        views
          ? path.join(layersView(this.d.runtimeDir, pod.id), path.relative(this.d.images.store.layersDir, this.d.images.store.layerDir(chainId)), 'diff')
          : path.join(this.d.images.store.layerDir(chainId), 'diff');
      const lowers = image.layers.map((l) => diff(l.chainId)).reverse();
      if (lowers.length === 0) {
        lowers.push(path.join(bundle, 'empty'));
        await fs.mkdir(lowers[0]!);
      }
      await native.mountOverlay(lowers, path.join(layerDir, 'upper'), path.join(layerDir, 'work'), rootfs);
      rb.push('unmount rootfs', () => native.unmount(rootfs));
      phases.mark('rootfs');
      const inputs = await gatherSpecInputs(cfg, image.config, rootfs, bundle, {
        images: this.d.images, boundingCaps: this.d.boundingCaps, owner,
        ...(views ? { volumes: { dir: path.join(views, 'imagevols'), layerDiff: diff } } : {}),
      });
      rb.push('unmount image volumes', () => unmountImageVolumes(inputs.volumes));
      rec.user = inputs.user;
      rec.imageVolumes = inputs.volumes;
      const podCfg = pod.config as { hostname?: string; metadata?: { name?: string }; linux?: { sysctls?: Record<string, string> } };
      const targetId = cfg.linux?.securityContext?.namespaceOptions?.targetId;
      const target = targetId ? await this.get(targetId) : undefined;
      if (target && (target.state !== 'running' || target.podId !== pod.id)) {
        throw precondition(`target container ${targetId} must be running in the same pod`);
      }
      const specCfg = views ? hostPathViews(cfg, views, pod.namespaces.user!) : cfg;
      const spec = generateSpec({
        userns: pod.userns && usernsSpec(pod.namespaces.user!, pod.userns),
        targetPidNs: target ? `/proc/${target.pid}/ns/pid` : undefined,
        ociVersion: rt.status.specVersion,
        container: specCfg,
        image: image.config,
        rootfs,
        hostname: pod.hostNetwork ? '' : podHostname(podCfg),
        podNamespaces: pod.namespaces,
        cgroupsPath: cgroup.oci,
        podFiles: podFileSources(pod, this.d.runtimeDir),
        boundingCaps: this.d.boundingCaps,
        minOomScoreAdj: this.d.minOomScoreAdj,
        sysctls: podCfg.linux?.sysctls ?? {},
        user: inputs.user,
        seccomp: inputs.seccomp,
        imageVolumes: inputs.imageVolumes,
        monitorPath: monitorPath(),
        devices: inputs.devices,
        lsm: inputs.lsm,
        cgroup: this.cgroupCaps,
      });
      if (pod.hostNetwork) delete spec.hostname;
      // As containerd does: a terminal needs a TERM, unless the image or the config names one.
      const proc = spec.process as { env: string[] };
      if (cfg.tty && !proc.env.some((e) => e.startsWith('TERM='))) proc.env.push('TERM=xterm');
      checkCommand(rootfs, spec.process as { args?: string[]; env?: string[] });
      await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 1));
      phases.mark('spec');
      await injectedCreateDelay();
      await this.d.store.save(rec);
      phases.mark('record');
      log.info({ handler: rt.handler, image: image.id, ms: phases.ms }, 'container created');
      this.d.events.emit(rec.id, rec.podId, 'created');
      return rec;
    } catch (e) {
      await rb.run();
      await this.d.store.delete(rec).catch(() => undefined);
      throw wrap(e, `create container ${meta.name} in pod ${pod.id}`);
    }
  }

  async start(id: string): Promise<void> {
    const c = await this.get(id);
    return this.lock.run(c.id, () => this.startLocked(this.d.store.get(c.id)));
  }

  private async startLocked(c: ContainerRecord): Promise<void> {
    await this.refresh(c);
    if (c.state !== 'created') throw precondition(`container ${c.id} is ${c.state}, not created`);
    const rt = this.d.runtimes.get(c.runtimeHandler);
    // A container created by an older berthd is in the runtime already, with its monitor.
    if (c.monitorPid) await rt.start(c.id);
    else await this.runMonitor(c, rt);
    c.state = 'running';
    c.startedAt = nowNs();
    await this.d.store.save(c);
    this.d.events.emit(c.id, c.podId, 'started');
    await this.refresh(c);
  }

  private async waitExit(c: ContainerRecord, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      if (existsSync(this.exitFile(c))) return true;
      if (!this.monitorAlive(c) && !processAlive(c.pid)) return true; // unmonitored, and gone
      if (Date.now() >= until) return false;
      await sleep(10);
    }
  }

  /**
   * StartContainer's runtime part: the monitor runs `<runtime> run --detach` and reports the
   * container's PID. The intent (`starting`) is saved first: a crash from here on is undone
   * at start-up and leaves the container created, so a retry can start it. A runtime that
   * refuses (a bad mount, a missing library) ends the container as containerd does: exited
   * with exit code 128 and reason StartError, and the error goes to the caller.
   */
  private async runMonitor(c: ContainerRecord, rt: OciRuntime): Promise<void> {
    rt.ensureReady();
    const cfg = this.config(c);
    c.starting = true;
    await this.d.store.save(c);
    try {
      const logRoot = c.logRoot ?? c.bundle;
      await this.socketDir('attach');
      const started = await startMonitor({
        start: true,
        cgroup: c.cgroupsPath,
        runtime: rt.binary, runtimeRoot: rt.root, id: c.id, bundle: c.bundle, logRoot, logRel: path.relative(logRoot, c.logPath), exitFile: this.exitFile(c),
        pidFile: path.join(c.bundle, 'pid'), runtimeLog: path.join(c.bundle, 'runtime.log'), monitorLog: path.join(c.bundle, 'monitor.log'),
        timeoutMs: this.d.createTimeoutMs,
        tty: cfg.tty ? { consoleSocket: path.join(await this.socketDir('console'), `${c.id.slice(0, 16)}.sock`) } : undefined,
        stdin: cfg.stdin ? { once: cfg.stdinOnce } : undefined,
        attachSocket: this.attachSocket(c.id),
        systemdCgroup: containerCgroup(this.d.pods.get(c.podId), c.id).systemd,
      });
      c.pid = started.pid;
      c.monitorPid = started.monitorPid;
      delete c.starting;
    } catch (e) {
      await rt.delete(c.id).catch(() => undefined);
      delete c.starting;
      Object.assign(c, { state: 'exited', exitCode: 128, finishedAt: nowNs(), reason: 'StartError', message: (e as Error).message });
      await this.d.store.save(c);
      this.d.events.emit(c.id, c.podId, 'stopped');
      throw wrap(e, `start container ${c.id}`);
    }
  }

  /** Stop signal, up to `timeoutSec` for the exit, then SIGKILL. Idempotent: unknown or removed is not an error. */
  async stop(id: string, timeoutSec: number): Promise<void> {
    const c = this.d.store.find(id);
    if (!c) return;
    // Re-checked under the lock: a concurrent RemoveContainer may have won.
    return this.lock.run(c.id, async () => {
      const now = this.d.store.find(c.id);
      if (now) await this.stopLocked(now, timeoutSec);
    });
  }

  private async stopLocked(c: ContainerRecord, timeoutSec: number): Promise<void> {
    await this.refresh(c);
    if (c.state === 'exited') return;
    if (c.state === 'created' && !c.monitorPid) {
      // Never started: nothing runs, nothing is in the runtime.
      Object.assign(c, { state: 'exited', exitCode: 0, finishedAt: nowNs(), reason: 'Completed', message: 'stopped before it was started' });
      await this.d.store.save(c);
      this.d.events.emit(c.id, c.podId, 'stopped');
      return;
    }
    const rt = this.d.runtimes.get(c.runtimeHandler);
    if (c.state === 'running' && timeoutSec > 0) {
      await rt.kill(c.id, c.stopSignal);
      if (await this.waitExit(c, timeoutSec * 1000)) return void (await this.refresh(c, 128 + 15));
    }
    await rt.kill(c.id, 'SIGKILL');
    if (!(await this.waitExit(c, 10_000))) throw wrap(new Error('did not exit 10 s after SIGKILL'), `stop container ${c.id}`);
    await this.refresh(c, 128 + 9);
    this.d.log.info({ container: c.id.slice(0, 12) }, 'container stopped');
  }

  /** Kills if needed, deletes from the runtime, unmounts and forgets. Idempotent. */
  async remove(id: string): Promise<void> {
    const c = this.d.store.find(id);
    if (!c) return;
    return this.lock.run(c.id, () => this.removeLocked(c));
  }

  private async removeLocked(c: ContainerRecord): Promise<void> {
    if (!this.d.store.find(c.id)) return; // removed while we waited for the lock
    await this.stopLocked(c, 0);
    if (c.monitorPid) await this.d.runtimes.get(c.runtimeHandler).delete(c.id);
    unmountImageVolumes(c.imageVolumes);
    native.unmount(path.join(c.bundle, 'rootfs'));
    if (c.idmapDir) await unmountAndRemove(c.idmapDir);
    await fs.rm(c.bundle, { recursive: true, force: true });
    await fs.rm(this.attachSocket(c.id), { force: true }); // the monitor removes it, unless it was killed
    await this.d.store.delete(c);
    this.d.events.emit(c.id, c.podId, 'deleted');
    this.d.log.info({ container: c.id.slice(0, 12) }, 'container removed');
  }

  /**
   * UpdateContainerResources: the runtime applies the new limits to the container's
   * cgroup, then the record keeps the merged resources (ContainerStatus reports them,
   * and they survive restarts). Serialised with stop/remove by the container's lock.
   */
  async updateResources(id: string, req: LinuxContainerResources): Promise<void> {
    const host = { cgroupV2: this.cgroupCaps.v2 };
    ociResources(req, host); // bad input is refused before anything else
    const found = await this.get(id);
    return this.lock.run(found.id, async () => {
      const c = await this.refresh(this.d.store.get(found.id));
      if (c.state === 'exited') throw precondition(`container ${c.id} is not running`);
      const cfg = this.config(c);
      const r = keepSwapAllowance(cfg.linux?.resources, req);
      const oci = ociResources(r, host);
      if (c.state === 'created' && !c.monitorPid) {
        // Not in the runtime yet: the spec it will start from gets the new limits.
        const specFile = path.join(c.bundle, 'config.json');
        const spec = JSON.parse(await fs.readFile(specFile, 'utf8')) as { linux: { resources?: Record<string, unknown> } };
        spec.linux.resources = { ...spec.linux.resources, ...oci };
        await fs.writeFile(specFile, JSON.stringify(spec, null, 1));
      } else {
        await this.d.runtimes.get(c.runtimeHandler).update(c.id, oci, path.join(c.bundle, 'resources-update.json'));
      }
      cfg.linux = { ...(cfg.linux ?? ContainerConfig.fromPartial({ linux: {} }).linux!), resources: mergeResources(cfg.linux?.resources, r) };
      c.config = ContainerConfig.toJSON(cfg);
      await this.d.store.save(c);
      this.d.log.info({ container: c.id.slice(0, 12), resources: oci }, 'container resources updated');
    });
  }

  /**
   * ReopenContainerLog: the kubelet renamed the log to rotate it; the monitor opens the
   * path afresh on SIGUSR1 (monitor/src/control.rs). Resolves once the monitor holds the
   * file now at the log path, so the caller's next look finds the new file in use.
   */
  async reopenLog(id: string): Promise<void> {
    const c = await this.get(id);
    if (c.state !== 'running' || !this.monitorAlive(c)) throw precondition(`container ${c.id} is not running`);
    // SIGUSR1 kills a process that does not take it: only a monitor that blocks it gets it.
    if (!signalBlocked(c.monitorPid, 10)) throw precondition(`the berth-monitor of container ${c.id} cannot reopen its log (started by an older berth)`);
    process.kill(c.monitorPid, 'SIGUSR1');
    const until = Date.now() + 5000;
    while (!holdsFile(c.monitorPid, c.logPath)) {
      if (!this.monitorAlive(c)) throw precondition(`container ${c.id} is not running`);
      // The monitor never opens through a symlink (beneath::create_log_file); say why at once.
      if ((await fs.lstat(c.logPath).catch(() => undefined))?.isSymbolicLink()) {
        throw precondition(`container ${c.id}: the log path ${c.logPath} is a symlink, which berth does not follow; the log was not reopened`);
      }
      if (Date.now() > until) throw internal(`container ${c.id}: berth-monitor did not reopen ${c.logPath} within 5 s (see ${path.join(c.bundle, 'monitor.log')})`);
      await sleep(10);
    }
  }

  async execSync(id: string, cmd: string[], timeoutSec: number): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    if (cmd.length === 0) throw invalid('exec needs a command');
    const c = await this.running(id);
    const pidFile = path.join(c.bundle, `exec-${newId().slice(0, 8)}.pid`);
    const r = await this.d.runtimes.get(c.runtimeHandler).exec(c.id, cmd, timeoutSec * 1000, pidFile);
    if (r.timedOut) throw deadline(`exec in container ${c.id} timed out after ${timeoutSec} s`);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code };
  }

  /** A container that must be running (the streaming RPCs check this before handing out a URL). */
  async running(id: string): Promise<ContainerRecord> {
    const c = await this.get(id);
    if (c.state !== 'running') throw precondition(`container ${c.id} is ${c.state}, not running`);
    return c;
  }

  /** Exec with streams (the Exec RPC's session): pipes, or a pty when `tty`. */
  async execStream(id: string, cmd: string[], o: { tty: boolean; stdin: boolean }): Promise<StreamingExec> {
    if (cmd.length === 0) throw invalid('exec needs a command');
    const c = await this.running(id);
    const rt = this.d.runtimes.get(c.runtimeHandler);
    return startStreamingExec({
      runtime: rt.binary, runtimeRoot: rt.root, containerId: c.id, cmd, tty: o.tty, stdin: o.stdin,
      stateDir: c.bundle, consoleDir: path.join(this.d.runtimeDir, 'console'),
    });
  }

  /** Attaches to the running container's stdio through its monitor. */
  async attach(id: string): Promise<AttachSession> {
    const c = await this.running(id);
    try {
      return await connectAttach(this.attachSocket(c.id));
    } catch (e) {
      throw precondition(`container ${c.id} cannot be attached to (created before berth served attach, or its monitor is gone): ${(e as Error).message}`);
    }
  }
}
