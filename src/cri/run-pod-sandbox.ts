import { invalid } from '../errors.js';
import type { RunPodSandboxRequest, RunPodSandboxResponse } from '../gen/runtime/v1/api.js';
import type { Caller } from '../store/create-handoff.js';
import type { CriContext } from './context.js';
import { checkPodConfig } from './validate.js';

export async function RunPodSandbox(ctx: CriContext, req: RunPodSandboxRequest, caller: Caller): Promise<RunPodSandboxResponse> {
  if (!req.config) throw invalid('RunPodSandbox needs a config');
  checkPodConfig(req.config);
  const pod = await ctx.pods.run(req.config, req.runtimeHandler, caller);
  return { podSandboxId: pod.id };
}
