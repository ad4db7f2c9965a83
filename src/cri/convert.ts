// Records → CRI messages.
import type { ContainerRecord } from '../container/container.js';
import type { ContainerService } from '../container/container-service.js';
import {
  type Container,
  ContainerState,
  type ContainerStatus,
  type Image,
  type Mount,
  type PodSandbox,
  PodSandboxState,
  type PodSandboxStatus,
} from '../gen/runtime/v1/api.js';
import type { ImageRecord } from '../image/image-store.js';
import type { PodRecord } from '../pod/pod.js';
import type { PodService } from '../pod/pod-service.js';

const states = { created: ContainerState.CONTAINER_CREATED, running: ContainerState.CONTAINER_RUNNING, exited: ContainerState.CONTAINER_EXITED };

export function podState(p: PodRecord): PodSandboxState {
  return p.state === 'ready' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

export function podSandbox(pods: PodService, p: PodRecord, cfg = pods.config(p)): PodSandbox {
  return {
    id: p.id,
    metadata: cfg.metadata,
    state: podState(p),
    createdAt: BigInt(p.createdAt),
    labels: cfg.labels,
    annotations: cfg.annotations,
    runtimeHandler: p.runtimeHandler,
  };
}

export function podSandboxStatus(pods: PodService, p: PodRecord): PodSandboxStatus {
  const cfg = pods.config(p);
  const [ip, ...more] = p.network?.attached ? p.network.ips : [];
  return {
    ...podSandbox(pods, p, cfg),
    network: { ip: ip ?? '', additionalIps: more.map((x) => ({ ip: x })) },
    linux: { namespaces: { options: cfg.linux?.securityContext?.namespaceOptions } },
  };
}

export function container(cs: ContainerService, c: ContainerRecord, cfg = cs.config(c)): Container {
  return {
    id: c.id,
    podSandboxId: c.podId,
    metadata: cfg.metadata,
    image: { image: c.imageName, annotations: {}, userSpecifiedImage: c.imageName, runtimeHandler: '', imageRef: c.imageId },
    imageRef: c.imageId,
    imageId: c.imageId,
    state: states[c.state],
    createdAt: BigInt(c.createdAt),
    labels: cfg.labels,
    annotations: cfg.annotations,
  };
}

export function containerStatus(cs: ContainerService, c: ContainerRecord): ContainerStatus {
  const cfg = cs.config(c);
  const base = container(cs, c, cfg);
  return {
    id: c.id,
    metadata: base.metadata,
    state: base.state,
    createdAt: base.createdAt,
    startedAt: BigInt(c.startedAt),
    finishedAt: BigInt(c.finishedAt),
    exitCode: c.exitCode,
    image: base.image,
    imageRef: c.imageId,
    imageId: c.imageId,
    reason: c.reason,
    message: c.message ?? '',
    labels: cfg.labels,
    annotations: cfg.annotations,
    mounts: statusMounts(c, cfg.mounts),
    logPath: c.logPath,
    // As created, then as UpdateContainerResources left them (the kubelet's in-place resize reads this).
    resources: cfg.linux?.resources ? { linux: cfg.linux.resources, windows: undefined } : undefined,
    user: c.user
      ? { linux: { uid: BigInt(c.user.uid), gid: BigInt(c.user.gid), supplementalGroups: c.user.additionalGids.map((g) => BigInt(g)) } }
      : undefined,
    stopSignal: 0,
  };
}

/** The CRI mounts as asked, each image volume with the ID of the image it mounted as image_ref. */
function statusMounts(c: ContainerRecord, mounts: Mount[]): Mount[] {
  return mounts.map((m) => {
    const v = m.image?.image ? c.imageVolumes?.find((x) => x.containerPath === m.containerPath) : undefined;
    return v ? { ...m, image: { ...m.image!, imageRef: v.imageId } } : m;
  });
}

export function image(i: ImageRecord): Image {
  const uid = /^\d+/.exec(i.config.User ?? '')?.[0];
  return {
    id: i.id,
    repoTags: i.repoTags,
    repoDigests: i.repoDigests,
    size: BigInt(i.size),
    uid: uid !== undefined ? { value: BigInt(uid) } : i.config.User ? undefined : { value: 0n },
    username: uid === undefined ? (i.config.User ?? '').split(':')[0]! : '',
    spec: { image: i.id, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: i.id },
    pinned: false,
  };
}
