// berthd: wires config, stores, services and the CRI server; owns the socket's life.
import { ServerCredentials } from '@grpc/grpc-js';
import { promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Cni } from './cni/cni.js';
import type { Config } from './config/config.js';
import { CheckpointService } from './container/checkpoint.js';
import type { ContainerRecord } from './container/container.js';
import { ContainerService } from './container/container-service.js';
import { ContainerStatsService } from './container/stats.js';
import type { CriContext } from './cri/context.js';
import { createCriServer } from './cri/server.js';
import { BerthError, precondition } from './errors.js';
import { ImageService } from './image/image-service.js';
import { ImageStore } from './image/image-store.js';
import { MetricsService } from './metrics/metrics-service.js';
import type { Logger } from './log.js';
import { native, root as packageRoot } from './native/index.js';
import { boundingCaps, minOomScoreAdj } from './oci/host-limits.js';
import { type CgroupDriverName, driverProblem } from './oci/cgroup-driver.js';
import { Criu } from './oci/criu.js';
import { RuntimeRegistry } from './oci/runtime-registry.js';
import type { PodRecord } from './pod/pod.js';
import { PodService } from './pod/pod-service.js';
import { PodStatsService } from './pod/pod-stats.js';
import { IdleRelease } from './util/idle-release.js';
import { LifecycleEvents } from './util/lifecycle-events.js';
import { RegistriesConf } from './registry/registries-conf.js';
import { ObjectStore } from './store/object-store.js';
import { streamBackend } from './stream/backend.js';
import { RequestCache } from './stream/request-cache.js';
import { StreamServer } from './stream/server.js';

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

/** Is a live server answering on this unix socket? */
function socketIsLive(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Daemon {
  ctx: CriContext;
  reload(next: Config): Promise<void>;
  stop(): Promise<void>;
}

export async function startDaemon(cfg: Config, log: Logger): Promise<Daemon> {
  const version = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  try {
    await fs.access(cfg.socket);
    if (await socketIsLive(cfg.socket)) throw precondition(`socket ${cfg.socket} is held by a live berthd (or another server); refusing to start`);
    log.warn({ socket: cfg.socket }, 'removing stale socket');
    await fs.rm(cfg.socket, { force: true });
  } catch (e) {
    if (e instanceof BerthError) throw e;
  }
  for (const d of [cfg.root, cfg.runtimeDir, path.dirname(cfg.socket)]) await fs.mkdir(d, { recursive: true, mode: 0o700 });
  // runtime_dir becomes 0711 once a user-namespaced pod needs a path to its views
  // (src/oci/idmap.ts); what else lies in it stays berth's own.
  for (const d of ['pods', 'containers', 'runtimes', 'probe', 'checkpoints']) {
    await fs.mkdir(path.join(cfg.runtimeDir, d), { recursive: true, mode: 0o700 });
    await fs.chmod(path.join(cfg.runtimeDir, d), 0o700);
  }

  const cg = native.cgroupInfo();
  const oom = minOomScoreAdj();
  if (oom.restricted) {
    log.warn({ minOomScoreAdj: oom.min }, 'no CAP_SYS_RESOURCE: oom_score_adj below berthd\'s own is clamped to it (restrict_oom_score_adj)');
  }
  const caps = boundingCaps();
  log.info({ cgroups: cg.mode, unifiedControllers: cg.unifiedControllers, caps: caps.length }, 'host');

  const driverIssue = driverProblem(cfg.cgroupDriver as CgroupDriverName);
  // Not fatal: berthd serves (images, Status with the reason) and the kubelet sees RuntimeReady=false.
  if (driverIssue) log.error({ cgroupDriver: cfg.cgroupDriver }, `runtime not ready: ${driverIssue}`);

  const runtimes = new RuntimeRegistry(cfg);
  const podStore = new ObjectStore<PodRecord>('pod sandbox', path.join(cfg.root, 'pods'));
  const containerStore = new ObjectStore<ContainerRecord>('container', path.join(cfg.root, 'containers'));
  const cni = new Cni(cfg.cniConfDir, cfg.cniPluginDirs, path.join(cfg.root, 'cni', 'results'), {
    timeoutMs: cfg.cniPluginTimeoutSeconds * 1000,
    stateFile: path.join(cfg.root, 'cni', 'pod-cidr.json'),
  });
  const events = new LifecycleEvents();
  let containers: ContainerService | undefined;
  const images = new ImageService(new ImageStore(cfg.root), () => RegistriesConf.load(cfg.registriesConf), log, (id) => containers?.imageInUse(id) ?? false, {
    maxLayerBytes: cfg.maxLayerBytes,
    maxConcurrentDownloads: cfg.maxConcurrentDownloads,
    authFiles: cfg.authFile ? [cfg.authFile] : undefined,
    certsDirs: cfg.registryCertsDirs,
    signaturePolicy: cfg.signaturePolicy,
  });
  containers = new ContainerService({
    store: containerStore, pods: podStore, images, runtimes, runtimeDir: cfg.runtimeDir, root: cfg.root,
    boundingCaps: caps, minOomScoreAdj: oom.min, createTimeoutMs: cfg.createTimeoutSeconds * 1000,
    unclaimedGraceMs: cfg.unclaimedCreateGraceSeconds * 1000, events, log,
  });
  const pods = new PodService({ store: podStore, containers, cni, runtimes, runtimeDir: cfg.runtimeDir, layersDir: images.store.layersDir, cgroupRoot: cfg.cgroupRoot,
    cgroupDriver: cfg.cgroupDriver as CgroupDriverName, unclaimedGraceMs: cfg.unclaimedCreateGraceSeconds * 1000, events, log });

  const [podsWithout, containersWithout] = await Promise.all([podStore.load(), containerStore.load(), images.init(), runtimes.probeAll(log)]);
  for (const [kind, ids] of [['pod sandbox', podsWithout], ['container', containersWithout]] as const) {
    if (ids.length) log.warn({ ids: ids.map((i) => i.slice(0, 12)) }, `removed ${kind} directories that hold no record (a create cut short by a crash)`);
  }
  await containers.reconcile();
  await pods.reconcile();
  // CNI GC with the attachments of the pods that survived reconcile: whatever else the
  // cache holds (a pod record lost in a crash) is DELeted, so its IP is released.
  const released = await cni.gc(pods.attachments(), (what, e) => log.warn({ err: e.message }, `CNI ${what} failed`));
  if (released.length) log.warn({ released }, 'released CNI attachments of pods that no longer exist');
  const netState = await cni.status();
  if (!netState.ready) log.warn({ reason: netState.message }, 'network not ready');

  const cache = new RequestCache();
  const tls = cfg.streamTlsCert ? { cert: readFileSync(cfg.streamTlsCert), key: readFileSync(cfg.streamTlsKey) } : undefined;
  const streamServer = new StreamServer(cfg.streamAddress, cfg.streamPort, cache, streamBackend(containers, podStore), log, tls);
  await streamServer.start();
  const streams = { cache, url: (kind: Parameters<StreamServer['url']>[0], token: string) => streamServer.url(kind, token) };
  const stopExitWatch = containers.watchExits();
  const containerStats = new ContainerStatsService(containers, containerStore.dir);
  const podStats = new PodStatsService(pods, containers, containerStats);
  const criMetrics = new MetricsService(containers, containerStats, containerStore.dir);
  const checkpoints = new CheckpointService({
    containers, pods: podStore, runtimes, criu: new Criu(cfg.criuPath), workRoot: path.join(cfg.runtimeDir, 'checkpoints'), log,
  });
  const ctx: CriContext = { cfg, version, pods, podStore, containers, checkpoints, containerStore, containerStats, podStats, criMetrics, images, runtimes, cni, events, streams };
  // prom-client and the metrics server are loaded only when metrics are on (off by
  // default): a few MB of berthd's heap otherwise.
  const metricsModule = cfg.metricsAddress ? await import('./metrics/metrics.js') : undefined;
  const metrics = metricsModule?.createMetrics(ctx);
  const idle = new IdleRelease(cfg.idleReleaseSeconds * 1000, () => {
    const before = process.memoryUsage.rss();
    native.releaseIdleMemory();
    log.debug({ rssMbBefore: mb(before), rssMbAfter: mb(process.memoryUsage.rss()) }, 'quiet: released clean pages and free heap');
  });
  const server = createCriServer(ctx, log, { observe: metrics?.observe, activity: idle });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${cfg.socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  await fs.chmod(cfg.socket, 0o600);
  const metricsServer = metricsModule && metrics ? await metricsModule.serveMetrics(cfg.metricsAddress, metrics.registry, log) : undefined;
  log.info({ socket: cfg.socket, root: cfg.root, runtimeDir: cfg.runtimeDir, version }, 'berthd serving CRI');
  idle.end(); // start-up was the first busy spell

  return {
    ctx,
    /** SIGHUP: applies what can change while running; the rest waits for a restart (logged). */
    async reload(next: Config) {
      const changed: string[] = [];
      if (next.logLevel !== cfg.logLevel) {
        log.level = next.logLevel;
        cfg.logLevel = next.logLevel;
        changed.push('log_level');
      }
      if (next.registriesConf !== cfg.registriesConf) {
        cfg.registriesConf = next.registriesConf; // read afresh by every pull
        changed.push('registries_conf');
      }
      changed.push(...(await runtimes.reload(next, log)));
      const fixed = (['socket', 'root', 'runtimeDir', 'cniConfDir', 'cgroupRoot'] as const).filter((k) => next[k] !== cfg[k]);
      if (fixed.length) log.warn({ keys: fixed }, 'configuration changes that need a restart were not applied');
      log.info({ changed }, changed.length ? 'configuration reloaded' : 'configuration reloaded: nothing changed');
    },
    async stop() {
      idle.stop();
      stopExitWatch();
      pods.close();
      containers.close();
      events.close();
      metricsServer?.close();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      await fs.rm(cfg.socket, { force: true });
      await streamServer.stop();
      // The cgroup root holds only berth's own pods; drop it when none is left.
      if (podStore.list().length === 0) {
        try {
          native.cgroupRemove(cfg.cgroupRoot);
        } catch (e) {
          log.warn({ cgroupRoot: cfg.cgroupRoot, err: (e as Error).message }, 'could not remove cgroup root');
        }
      }
      log.info('berthd stopped');
    },
  };
}
