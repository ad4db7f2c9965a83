import type { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/**
 * The kubelet's node pod CIDR: pods created from now on get it as the CNI `ipRanges`
 * capability (plugins that declare it allocate from it); running pods keep their IPs.
 */
export async function UpdateRuntimeConfig(ctx: CriContext, req: UpdateRuntimeConfigRequest): Promise<UpdateRuntimeConfigResponse> {
  await ctx.cni.setPodCidr(req.runtimeConfig?.networkConfig?.podCidr ?? '');
  return {};
}
