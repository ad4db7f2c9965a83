import type { RemovePodSandboxRequest, RemovePodSandboxResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Idempotent: removing an unknown or already removed pod succeeds, as the CRI requires. */
export async function RemovePodSandbox(ctx: CriContext, req: RemovePodSandboxRequest): Promise<RemovePodSandboxResponse> {
  await ctx.pods.remove(req.podSandboxId);
  return {};
}
