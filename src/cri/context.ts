// What CRI handlers may use: the services (never the native layer directly).
import type { Cni } from '../cni/cni.js';
import type { Config } from '../config/config.js';
import type { CheckpointService } from '../container/checkpoint.js';
import type { ContainerRecord } from '../container/container.js';
import type { ContainerService } from '../container/container-service.js';
import type { ContainerStatsService } from '../container/stats.js';
import type { ImageService } from '../image/image-service.js';
import type { MetricsService } from '../metrics/metrics-service.js';
import type { RuntimeRegistry } from '../oci/runtime-registry.js';
import type { PodRecord } from '../pod/pod.js';
import type { PodService } from '../pod/pod-service.js';
import type { PodStatsService } from '../pod/pod-stats.js';
import type { Caller } from '../store/create-handoff.js';
import type { ObjectStore } from '../store/object-store.js';
import type { RequestCache, StreamKind } from '../stream/request-cache.js';
import type { LifecycleEvents } from '../util/lifecycle-events.js';

export interface CriContext {
  cfg: Config;
  version: string;
  pods: PodService;
  podStore: ObjectStore<PodRecord>;
  containers: ContainerService;
  checkpoints: CheckpointService;
  containerStore: ObjectStore<ContainerRecord>;
  containerStats: ContainerStatsService;
  podStats: PodStatsService;
  /** The CRI metrics (ListPodSandboxMetrics); not the Prometheus endpoint. */
  criMetrics: MetricsService;
  images: ImageService;
  runtimes: RuntimeRegistry;
  cni: Cni;
  /** The streaming server's pending requests and the URL it serves a token at. */
  streams: { cache: RequestCache; url(kind: StreamKind, token: string): string };
  events: LifecycleEvents;
}

// A handler takes the decoded request (and what is known of its caller: creates keep
// their result for a retry when it left) and returns the response message.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (ctx: CriContext, req: any, caller: Caller) => Promise<unknown>;

/** A server-streaming handler: writes messages until the client leaves or berthd stops. */
export type StreamHandler = (ctx: CriContext, req: any, out: { write(msg: unknown): void; end(): void; onCancel(fn: () => void): void }) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
