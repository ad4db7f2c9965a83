import { invalid } from '../errors.js';
import type { ExecRequest, ExecResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { checkChannels } from './stream-request.js';

/** Validates, then hands out a single-use URL; the exec itself runs when the client connects. */
export async function Exec(ctx: CriContext, req: ExecRequest): Promise<ExecResponse> {
  if (!req.containerId) throw invalid('container_id is required');
  if (req.cmd.length === 0 || !req.cmd[0]) throw invalid('exec needs a command');
  checkChannels(req);
  const c = await ctx.containers.running(req.containerId);
  const token = ctx.streams.cache.insert({ kind: 'exec', containerId: c.id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
  return { url: ctx.streams.url('exec', token) };
}
