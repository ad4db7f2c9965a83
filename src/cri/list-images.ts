import type { ListImagesRequest, ListImagesResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { image } from './convert.js';

export async function ListImages(ctx: CriContext, req: ListImagesRequest): Promise<ListImagesResponse> {
  const want = req.filter?.image?.image;
  const match = want ? ctx.images.find(want) : undefined;
  const list = want ? (match ? [match] : []) : ctx.images.store.list();
  return { images: list.map(image) };
}
