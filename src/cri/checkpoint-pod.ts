import { invalid } from '../errors.js';
import type { CheckpointPodRequest, CheckpointPodResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Checked as the CRI asks, then refused with the reason (container/checkpoint.ts). */
export async function CheckpointPod(ctx: CriContext, req: CheckpointPodRequest): Promise<CheckpointPodResponse> {
  if (!req.podSandboxId) throw invalid('CheckpointPod needs a pod_sandbox_id');
  return ctx.checkpoints.pod(req.podSandboxId, req.outputPath, req.containerIds, req.options);
}
