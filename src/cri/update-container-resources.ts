import { invalid } from '../errors.js';
import type { UpdateContainerResourcesRequest, UpdateContainerResourcesResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function UpdateContainerResources(ctx: CriContext, req: UpdateContainerResourcesRequest): Promise<UpdateContainerResourcesResponse> {
  if (!req.linux) throw invalid('UpdateContainerResources needs linux resources (windows resources do not apply here)');
  await ctx.containers.updateResources(req.containerId, req.linux);
  return {};
}
