import type { ListContainerStatsRequest, ListContainerStatsResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Stats of every container the filter selects (any state: the kubelet matches them to its list). */
export async function ListContainerStats(ctx: CriContext, req: ListContainerStatsRequest): Promise<ListContainerStatsResponse> {
  const f = req.filter;
  const selected = ctx.containerStore
    .list()
    .filter((c) => !f?.id || c.id.startsWith(f.id))
    .filter((c) => !f?.podSandboxId || c.podId.startsWith(f.podSandboxId))
    .filter((c) => {
      const labels = ctx.containers.config(c).labels;
      return Object.entries(f?.labelSelector ?? {}).every(([k, v]) => labels[k] === v);
    });
  const records = await Promise.all(selected.map((c) => ctx.containers.refresh(c)));
  return { stats: await ctx.containerStats.stats(records) };
}
