import type { StopContainerRequest, StopContainerResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Stop signal, then SIGKILL after `timeout` seconds; stopping a stopped container succeeds. */
export async function StopContainer(ctx: CriContext, req: StopContainerRequest): Promise<StopContainerResponse> {
  await ctx.containers.stop(req.containerId, Number(req.timeout));
  return {};
}
