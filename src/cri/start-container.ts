import type { StartContainerRequest, StartContainerResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function StartContainer(ctx: CriContext, req: StartContainerRequest): Promise<StartContainerResponse> {
  await ctx.containers.start(req.containerId);
  return {};
}
