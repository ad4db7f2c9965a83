import { CgroupDriver, type RuntimeConfigRequest, type RuntimeConfigResponse } from '../gen/runtime/v1/api.js';
import type { CriContext } from './context.js';

/**
 * The cgroup driver berth manages pods with. berth drives cgroupfs only (the systemd
 * driver comes with the runtime-depth work); the kubelet and critest read this to choose
 * cgroup_parent paths, and on an error they assume systemd.
 */
export async function RuntimeConfig(_ctx: CriContext, _req: RuntimeConfigRequest): Promise<RuntimeConfigResponse> {
  return { linux: { cgroupDriver: CgroupDriver.CGROUPFS } };
}
