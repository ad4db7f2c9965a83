import { invalid } from '../errors.js';
import type { CheckpointContainerRequest, CheckpointContainerResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** The container's CRIU image, config and writable layer in one archive at `location` (container/checkpoint.ts). */
export async function CheckpointContainer(ctx: CriContext, req: CheckpointContainerRequest): Promise<CheckpointContainerResponse> {
  if (!req.containerId) throw invalid('CheckpointContainer needs a container_id');
  await ctx.checkpoints.container(req.containerId, req.location, Number(req.timeout));
  return {};
}
