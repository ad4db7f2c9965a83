import type { ListPodSandboxRequest, ListPodSandboxResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { podSandbox } from './convert.js';

export async function ListPodSandbox(ctx: CriContext, req: ListPodSandboxRequest): Promise<ListPodSandboxResponse> {
  const f = req.filter;
  const items = ctx.podStore
    .list()
    .filter((p) => !f?.id || p.id.startsWith(f.id))
    .map((p) => podSandbox(ctx.pods, p))
    .filter((p) => !f?.state || p.state === f.state.state)
    .filter((p) => Object.entries(f?.labelSelector ?? {}).every(([k, v]) => p.labels[k] === v))
    .sort((a, b) => Number(b.createdAt - a.createdAt));
  return { items };
}
