import type { StopPodSandboxRequest, StopPodSandboxResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function StopPodSandbox(ctx: CriContext, req: StopPodSandboxRequest): Promise<StopPodSandboxResponse> {
  await ctx.pods.stop(req.podSandboxId);
  return {};
}
