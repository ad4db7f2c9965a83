import type { PodSandboxStatsRequest, PodSandboxStatsResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function PodSandboxStats(ctx: CriContext, req: PodSandboxStatsRequest): Promise<PodSandboxStatsResponse> {
  const pod = ctx.podStore.get(req.podSandboxId);
  const [stats] = await ctx.podStats.stats([pod]);
  return { stats };
}
