// GetContainerEvents: a live stream of container (and sandbox) lifecycle events, each with
// the pod's status and its containers' statuses as they are when the event is sent — what
// the kubelet's evented PLEG reads. Only events after the call are sent (as containerd does).
import { ContainerEventType, type ContainerEventResponse, type GetEventsRequest } from '../gen/runtime/v1/api.js';
import type { LifecycleEvent, LifecycleKind } from '../util/lifecycle-events.js';
import type { CriContext, StreamHandler } from './context.js';
import { containerStatus, podSandboxStatus } from './convert.js';

const types: Record<LifecycleKind, ContainerEventType> = {
  created: ContainerEventType.CONTAINER_CREATED_EVENT,
  started: ContainerEventType.CONTAINER_STARTED_EVENT,
  stopped: ContainerEventType.CONTAINER_STOPPED_EVENT,
  deleted: ContainerEventType.CONTAINER_DELETED_EVENT,
};

function response(ctx: CriContext, e: LifecycleEvent): ContainerEventResponse {
  const pod = ctx.podStore.find(e.podId);
  return {
    containerId: e.id,
    containerEventType: types[e.kind],
    createdAt: BigInt(e.at),
    podSandboxStatus: pod ? podSandboxStatus(ctx.pods, pod) : undefined,
    containersStatuses: pod ? ctx.containers.inPod(pod.id).map((c) => containerStatus(ctx.containers, c)) : [],
  };
}

export const GetContainerEvents: StreamHandler = (ctx: CriContext, _req: GetEventsRequest, out) => {
  const unsubscribe = ctx.events.subscribe((e) => out.write(response(ctx, e)));
  const unClose = ctx.events.onClose(() => {
    unsubscribe();
    out.end();
  });
  out.onCancel(() => {
    unsubscribe();
    unClose();
  });
};
