import { CgroupDriver, type RuntimeConfigRequest, type RuntimeConfigResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/**
 * The cgroup driver berth places pods with (cgroup_driver): the kubelet reads it to choose
 * cgroup_parent paths or slices, and critest too (on an error it assumes systemd). It is
 * reported even when systemd is not running here: that is Status's RuntimeReady to say.
 */
export async function RuntimeConfig(ctx: CriContext, _req: RuntimeConfigRequest): Promise<RuntimeConfigResponse> {
  return { linux: { cgroupDriver: ctx.cfg.cgroupDriver === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS } };
}
