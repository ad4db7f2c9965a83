import { invalid, notFound, precondition } from '../errors.js';
import type { PortForwardRequest, PortForwardResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/** Validates the pod and ports, then hands out a single-use URL. */
export async function PortForward(ctx: CriContext, req: PortForwardRequest): Promise<PortForwardResponse> {
  if (!req.podSandboxId) throw invalid('pod_sandbox_id is required');
  for (const p of req.port) if (!(p >= 1 && p <= 65535)) throw invalid(`port ${p} is not a TCP port`);
  const pod = ctx.podStore.find(req.podSandboxId);
  if (!pod) throw notFound(`pod sandbox ${req.podSandboxId} not found`);
  if (pod.state !== 'ready') throw precondition(`pod sandbox ${pod.id} is not ready`);
  const token = ctx.streams.cache.insert({ kind: 'portforward', podId: pod.id, ports: req.port });
  return { url: ctx.streams.url('portforward', token) };
}
