import type { ListPodSandboxStatsRequest, ListPodSandboxStatsResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function ListPodSandboxStats(ctx: CriContext, req: ListPodSandboxStatsRequest): Promise<ListPodSandboxStatsResponse> {
  const f = req.filter;
  const pods = ctx.podStore
    .list()
    .filter((p) => p.state !== 'creating')
    .filter((p) => !f?.id || p.id.startsWith(f.id))
    .filter((p) => {
      const labels = ctx.pods.config(p).labels;
      return Object.entries(f?.labelSelector ?? {}).every(([k, v]) => labels[k] === v);
    });
  return { stats: await ctx.podStats.stats(pods) };
}
