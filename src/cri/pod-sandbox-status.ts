import type { PodSandboxStatusRequest, PodSandboxStatusResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { podSandboxStatus } from './convert.js';

export async function PodSandboxStatus(ctx: CriContext, req: PodSandboxStatusRequest): Promise<PodSandboxStatusResponse> {
  const pod = ctx.podStore.get(req.podSandboxId);
  const info: Record<string, string> = {};
  if (req.verbose) {
    info.info = JSON.stringify({
      namespaces: pod.namespaces,
      cgroupPath: pod.cgroupPath,
      runtimeHandler: pod.runtimeHandler,
      network: pod.network ?? null,
      // Verbose only: CNI CHECK runs the plugins ("" = the attachment is as ADD made it).
      networkCheck: pod.hostNetwork ? 'host network' : await ctx.pods.checkNetwork(pod),
      config: pod.config,
    });
  }
  return { status: podSandboxStatus(ctx.pods, pod), info, containersStatuses: [], timestamp: 0n };
}
