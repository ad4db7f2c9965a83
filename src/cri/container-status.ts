import type { ContainerStatusRequest, ContainerStatusResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { containerStatus } from './convert.js';

export async function ContainerStatus(ctx: CriContext, req: ContainerStatusRequest): Promise<ContainerStatusResponse> {
  const c = await ctx.containers.get(req.containerId);
  const info: Record<string, string> = {};
  if (req.verbose) {
    info.info = JSON.stringify({ sandboxID: c.podId, pid: c.pid, monitorPid: c.monitorPid, runtimeHandler: c.runtimeHandler, bundle: c.bundle, cgroupsPath: c.cgroupsPath });
  }
  return { status: containerStatus(ctx.containers, c), info };
}
