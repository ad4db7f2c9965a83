// Registers both CRI services through one wrapper: every RPC gets the same log line,
// the same error → gRPC status mapping (errors.ts) and, if berth has no handler for it
// yet, UNIMPLEMENTED with the RPC's name — never a silent empty success.
import { type ServerUnaryCall, type sendUnaryData, Server, type ServiceDefinition, status, type UntypedServiceImplementation, type ServerWritableStream } from '@grpc/grpc-js';
import { toGrpc } from '../errors.js';
import type { Caller } from '../store/create-handoff.js';
import { ImageServiceService, RuntimeServiceService } from '../gen/runtime/v1/api.js';
import type { Logger } from '../log.js';
import type { CriContext, Handler, StreamHandler } from './context.js';
import { CheckpointContainer } from './checkpoint-container.js';
import { CheckpointPod } from './checkpoint-pod.js';
import { ContainerStats } from './container-stats.js';
import { GetContainerEvents } from './get-container-events.js';
import { ContainerStatus } from './container-status.js';
import { Attach } from './attach.js';
import { CreateContainer } from './create-container.js';
import { Exec } from './exec.js';
import { ExecSync } from './exec-sync.js';
import { ImageFsInfo } from './image-fs-info.js';
import { ImageStatus } from './image-status.js';
import { ListContainerStats } from './list-container-stats.js';
import { ListContainers } from './list-containers.js';
import { ListImages } from './list-images.js';
import { ListMetricDescriptors } from './list-metric-descriptors.js';
import { ListPodSandbox } from './list-pod-sandbox.js';
import { ListPodSandboxMetrics } from './list-pod-sandbox-metrics.js';
import { ListPodSandboxStats } from './list-pod-sandbox-stats.js';
import { PodSandboxStats } from './pod-sandbox-stats.js';
import { PodSandboxStatus } from './pod-sandbox-status.js';
import { PortForward } from './port-forward.js';
import { PullImage } from './pull-image.js';
import { RemoveContainer } from './remove-container.js';
import { RemoveImage } from './remove-image.js';
import { RemovePodSandbox } from './remove-pod-sandbox.js';
import { ReopenContainerLog } from './reopen-container-log.js';
import { RunPodSandbox } from './run-pod-sandbox.js';
import { RestorePod } from './restore-pod.js';
import { RuntimeConfig } from './runtime-config.js';
import { StartContainer } from './start-container.js';
import { Status } from './status.js';
import { StopContainer } from './stop-container.js';
import { StopPodSandbox } from './stop-pod-sandbox.js';
import { UpdateContainerResources } from './update-container-resources.js';
import { UpdatePodSandboxResources } from './update-pod-sandbox-resources.js';
import { UpdateRuntimeConfig } from './update-runtime-config.js';
import { Version } from './version.js';

/** Handlers by RPC name (the last segment of the gRPC path). */
export const handlers: Record<string, Handler> = {
  Version, Status, RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox,
  CreateContainer, StartContainer, StopContainer, RemoveContainer, ListContainers, ContainerStatus, ExecSync,
  Exec, Attach, PortForward,
  PullImage, ListImages, ImageStatus, RemoveImage, ImageFsInfo, RuntimeConfig,
  UpdateRuntimeConfig,
  ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats, ReopenContainerLog,
  UpdateContainerResources, UpdatePodSandboxResources, ListMetricDescriptors, ListPodSandboxMetrics,
  CheckpointContainer, CheckpointPod, RestorePod,
};

/** Server-streaming handlers by RPC name. */
export const streamHandlers: Record<string, StreamHandler> = { GetContainerEvents };

/**
 * RPCs that only read state: logged at debug level (the kubelet polls them constantly),
 * and not counted as activity (see src/util/idle-release.ts).
 */
const readOnly = new Set(['Version', 'Status', 'ListPodSandbox', 'ListContainers', 'ContainerStatus', 'PodSandboxStatus', 'ListImages', 'ImageStatus', 'ImageFsInfo', 'RuntimeConfig',
  'ContainerStats', 'ListContainerStats', 'PodSandboxStats', 'ListPodSandboxStats', 'ListMetricDescriptors', 'ListPodSandboxMetrics']);

/** Told of every unary RPC as it ends (metrics): its name, gRPC code, seconds and request. */
export type RpcObserver = (rpc: string, code: status, seconds: number, req: unknown) => void;

export interface ServerHooks {
  observe?: RpcObserver;
  /** Told when each state-changing unary RPC begins and ends. */
  activity?: { begin(): void; end(): void };
}

function implement(def: ServiceDefinition, service: string, ctx: CriContext, log: Logger, { observe, activity }: ServerHooks): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(def)) {
    const rpc = method.path.split('/').pop()!;
    const handler = handlers[rpc];
    if (method.responseStream) {
      const stream = streamHandlers[rpc];
      impl[key] = (call: ServerWritableStream<unknown, unknown>) => {
        if (!stream) {
          call.emit('error', { code: status.UNIMPLEMENTED, details: `berth: ${service}.${rpc} is not implemented yet` });
          return;
        }
        log.info({ rpc }, 'stream opened');
        stream(ctx, call.request, {
          write: (msg) => call.write(msg),
          end: () => call.end(),
          onCancel: (fn) => {
            call.on('cancelled', fn);
            call.on('close', fn);
          },
        });
      };
      continue;
    }
    impl[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      if (!handler) {
        log.debug({ rpc }, 'unimplemented RPC');
        callback({ code: status.UNIMPLEMENTED, details: `berth: ${service}.${rpc} is not implemented yet` });
        return;
      }
      const started = process.hrtime.bigint();
      // Gone once the client cancels or its deadline passes (grpc-js may answer
      // DEADLINE_EXCEEDED itself without a cancel event, so the deadline is checked too).
      const d = call.getDeadline();
      const deadlineMs = d instanceof Date ? d.getTime() : d;
      const caller: Caller = { gone: () => call.cancelled || Date.now() >= deadlineMs };
      const busy = activity && !readOnly.has(rpc);
      if (busy) activity.begin();
      handler(ctx, call.request, caller).finally(() => busy && activity.end()).then(
        (res) => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (readOnly.has(rpc)) log.debug({ rpc, ms }, 'rpc');
          else log.info({ rpc, ms }, 'rpc');
          observe?.(rpc, status.OK, ms / 1000, call.request);
          callback(null, res);
        },
        (err: unknown) => {
          const g = toGrpc(err);
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          log[g.code === status.INTERNAL ? 'error' : 'warn']({ rpc, ms, code: status[g.code], err: g.details }, 'rpc failed');
          observe?.(rpc, g.code, ms / 1000, call.request);
          callback({ code: g.code, details: g.details });
        },
      );
    };
  }
  return impl;
}

export function createCriServer(ctx: CriContext, log: Logger, hooks: ServerHooks = {}): Server {
  const server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.max_send_message_length': 16 * 1024 * 1024 });
  server.addService(RuntimeServiceService, implement(RuntimeServiceService, 'RuntimeService', ctx, log, hooks));
  server.addService(ImageServiceService, implement(ImageServiceService, 'ImageService', ctx, log, hooks));
  return server;
}
