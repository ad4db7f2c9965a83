import type { ListPodSandboxMetricsRequest, ListPodSandboxMetricsResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function ListPodSandboxMetrics(ctx: CriContext, _req: ListPodSandboxMetricsRequest): Promise<ListPodSandboxMetricsResponse> {
  const pods = ctx.podStore.list().filter((p) => p.state !== 'creating');
  return { podMetrics: await ctx.criMetrics.podMetrics(pods) };
}
