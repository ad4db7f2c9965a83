import { invalid } from '../errors.js';
import type { ImageStatusRequest, ImageStatusResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { image } from './convert.js';

/** An absent image is not an error: the response simply has no image (CRI semantics). */
export async function ImageStatus(ctx: CriContext, req: ImageStatusRequest): Promise<ImageStatusResponse> {
  if (!req.image?.image) throw invalid('ImageStatus needs an image');
  const img = ctx.images.find(req.image.image);
  const info: Record<string, string> = {};
  // As CRI-O and containerd: the OCI image config (with history) under imageSpec.
  if (img && req.verbose) {
    info.info = JSON.stringify({
      imageSpec: { ...img.spec, config: img.config },
      manifestDigest: img.manifestDigest,
      layers: img.layers,
      pulledAt: new Date(img.pulledAt).toISOString(),
    });
  }
  return { image: img ? image(img) : undefined, info };
}
