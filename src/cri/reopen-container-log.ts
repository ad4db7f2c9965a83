import type { ReopenContainerLogRequest, ReopenContainerLogResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function ReopenContainerLog(ctx: CriContext, req: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> {
  await ctx.containers.reopenLog(req.containerId);
  return {};
}
