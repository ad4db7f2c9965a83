import { invalid } from '../errors.js';
import type { PullImageRequest, PullImageResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function PullImage(ctx: CriContext, req: PullImageRequest): Promise<PullImageResponse> {
  if (!req.image?.image) throw invalid('PullImage needs an image');
  const img = await ctx.images.pull(req.image.image, req.auth);
  return { imageRef: img.id };
}
