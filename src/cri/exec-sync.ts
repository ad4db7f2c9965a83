import type { ExecSyncRequest, ExecSyncResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function ExecSync(ctx: CriContext, req: ExecSyncRequest): Promise<ExecSyncResponse> {
  const r = await ctx.containers.execSync(req.containerId, req.cmd, Number(req.timeout));
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}
