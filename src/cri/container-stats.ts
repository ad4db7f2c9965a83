import type { ContainerStatsRequest, ContainerStatsResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function ContainerStats(ctx: CriContext, req: ContainerStatsRequest): Promise<ContainerStatsResponse> {
  const c = await ctx.containers.get(req.containerId);
  const [stats] = await ctx.containerStats.stats([c]);
  return { stats };
}
