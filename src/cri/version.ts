import type { VersionRequest, VersionResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

export async function Version(ctx: CriContext, _req: VersionRequest): Promise<VersionResponse> {
  return { version: '0.1.0', runtimeName: 'berth', runtimeVersion: ctx.version, runtimeApiVersion: 'v1' };
}
