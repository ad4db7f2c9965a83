import type { ListMetricDescriptorsRequest, ListMetricDescriptorsResponse } from '../gen/runtime/v1/api.js';
import { descriptors } from '../metrics/cri-metrics.js';
import type { CriContext } from './context.js';

export async function ListMetricDescriptors(_ctx: CriContext, _req: ListMetricDescriptorsRequest): Promise<ListMetricDescriptorsResponse> {
  return { descriptors };
}
