import { invalid } from '../errors.js';
import type { CreateContainerRequest, CreateContainerResponse } from '../gen/runtime/v1/api.js';
import type { Caller } from '../store/create-handoff.js';
import type { CriContext } from './context.js';
import { checkContainerConfig } from './validate.js';

export async function CreateContainer(ctx: CriContext, req: CreateContainerRequest, caller: Caller): Promise<CreateContainerResponse> {
  if (!req.podSandboxId) throw invalid('CreateContainer needs a pod_sandbox_id');
  if (!req.config) throw invalid('CreateContainer needs a config');
  checkContainerConfig(req.config);
  const c = await ctx.containers.create(req.podSandboxId, req.config, caller);
  return { containerId: c.id };
}
