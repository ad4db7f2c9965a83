import type { ImageFsInfoRequest, ImageFsInfoResponse } from '../gen/runtime/v1/api.js';
import { diskUsageCached } from '../util/disk-usage.js';
import type { CriContext } from './context.js';

/** Usage of the layer store (images) and of the containers' writable layers. */
export async function ImageFsInfo(ctx: CriContext, _req: ImageFsInfoRequest): Promise<ImageFsInfoResponse> {
  const timestamp = BigInt(Date.now()) * 1_000_000n;
  const usage = async (dir: string) => {
    const u = await diskUsageCached(dir);
    return { timestamp, fsId: { mountpoint: dir }, usedBytes: { value: BigInt(u.bytes) }, inodesUsed: { value: BigInt(u.inodes) } };
  };
  return {
    imageFilesystems: [await usage(ctx.images.store.layersDir)],
    containerFilesystems: [await usage(ctx.containerStore.dir)],
  };
}
