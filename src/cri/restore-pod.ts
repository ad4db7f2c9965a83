import { invalid } from '../errors.js';
import type { RestorePodRequest, RestorePodResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Checked as the CRI asks, then refused with the reason (container/checkpoint.ts). */
export async function RestorePod(ctx: CriContext, req: RestorePodRequest): Promise<RestorePodResponse> {
  if (!req.config) throw invalid('RestorePod needs a config');
  return ctx.checkpoints.restorePod(req.checkpointPath, req.runtimeHandler, req.options, req.containerConfigs.map((c) => c.metadata?.name ?? ''));
}
