import type { ListContainersRequest, ListContainersResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { container } from './convert.js';

export async function ListContainers(ctx: CriContext, req: ListContainersRequest): Promise<ListContainersResponse> {
  const f = req.filter;
  const records = await Promise.all(ctx.containerStore.list().map((c) => ctx.containers.refresh(c)));
  const containers = records
    .filter((c) => !f?.id || c.id.startsWith(f.id))
    .filter((c) => !f?.podSandboxId || c.podId.startsWith(f.podSandboxId))
    .map((c) => container(ctx.containers, c))
    .filter((c) => !f?.state || c.state === f.state.state)
    .filter((c) => Object.entries(f?.labelSelector ?? {}).every(([k, v]) => c.labels[k] === v))
    .sort((a, b) => Number(b.createdAt - a.createdAt));
  return { containers };
}
