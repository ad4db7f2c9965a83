import { invalid } from '../errors.js';
import type { AttachRequest, AttachResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';
import { checkChannels } from './stream-request.js';

/** Validates, then hands out a single-use URL; the attachment starts when the client connects. */
export async function Attach(ctx: CriContext, req: AttachRequest): Promise<AttachResponse> {
  if (!req.containerId) throw invalid('container_id is required');
  checkChannels(req);
  const c = await ctx.containers.running(req.containerId);
  const token = ctx.streams.cache.insert({ kind: 'attach', containerId: c.id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
  return { url: ctx.streams.url('attach', token) };
}
