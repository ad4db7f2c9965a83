import { invalid } from '../errors.js';
import type { RemoveImageRequest, RemoveImageResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Idempotent: removing an absent image succeeds. */
export async function RemoveImage(ctx: CriContext, req: RemoveImageRequest): Promise<RemoveImageResponse> {
  if (!req.image?.image) throw invalid('RemoveImage needs an image');
  await ctx.images.remove(req.image.image);
  return {};
}
