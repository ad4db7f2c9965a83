import type { UpdatePodSandboxResourcesRequest, UpdatePodSandboxResourcesResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/**
 * The kubelet tells the runtime the pod's new overhead and summed resources after it has
 * resized the pod cgroup it manages itself (under cgroup_parent); containerd only forwards
 * this to NRI plugins. berth checks it, and applies it to a pod cgroup it made itself.
 */
export async function UpdatePodSandboxResources(ctx: CriContext, req: UpdatePodSandboxResourcesRequest): Promise<UpdatePodSandboxResourcesResponse> {
  await ctx.pods.updateResources(req.podSandboxId, req.overhead, req.resources);
  return {};
}
