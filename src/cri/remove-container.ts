import type { RemoveContainerRequest, RemoveContainerResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Idempotent: an unknown or already removed container is not an error. */
export async function RemoveContainer(ctx: CriContext, req: RemoveContainerRequest): Promise<RemoveContainerResponse> {
  await ctx.containers.remove(req.containerId);
  return {};
}
