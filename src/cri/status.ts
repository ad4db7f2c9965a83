import type { StatusRequest, StatusResponse } from '../gen/runtime/v1/api.js';
import { type CgroupDriverName, driverProblem } from '../oci/cgroup-driver.js';
import type { CriContext } from './context.js';

/** RuntimeReady follows the default handler; each handler that cannot run is named with its reason. */
export async function Status(ctx: CriContext, req: StatusRequest): Promise<StatusResponse> {
  const def = ctx.runtimes.default;
  const net = await ctx.cni.status();
  const handlers = [...ctx.runtimes.handlers.values()];
  const broken = handlers.filter((h) => !h.status.ready);
  const handlerOf = (name: string) => (name ? ctx.runtimes.handlers.get(name)! : def);
  // A cgroup driver the host cannot serve (systemd configured, systemd not running) makes
  // every RunPodSandbox fail: the kubelet must see that in RuntimeReady, not pod by pod.
  const cgroupProblem = driverProblem(ctx.cfg.cgroupDriver as CgroupDriverName);
  const runtimeReady = def.status.ready && !cgroupProblem;
  const info: Record<string, string> = {};
  if (req.verbose) {
    info.config = JSON.stringify({ ...ctx.cfg });
    info.cni = JSON.stringify(ctx.cni.describe());
    info.runtimeHandlers = JSON.stringify(Object.fromEntries(handlers.map((h) => [h.handler, { binary: h.binary, ...h.status }])));
  }
  return {
    status: {
      conditions: [
        {
          type: 'RuntimeReady',
          status: runtimeReady,
          reason: runtimeReady ? '' : cgroupProblem ? 'CgroupDriverNotReady' : 'RuntimeHandlerNotReady',
          message: runtimeReady
            ? broken.map((h) => `runtime handler ${h.handler} cannot run: ${h.status.reason}`).join('; ')
            : (cgroupProblem ?? `default runtime handler ${def.handler}: ${def.status.reason}`),
        },
        {
          type: 'NetworkReady',
          status: net.ready,
          reason: net.ready ? '' : 'NetworkPluginNotReady',
          message: net.ready ? '' : `Network plugin returns error: ${net.message}`,
        },
      ],
    },
    info,
    // The default handler is listed under its name and as "" (what RuntimeClass-less pods use).
    runtimeHandlers: [...(def.status.ready ? [''] : []), ...handlers.filter((h) => h.status.ready).map((h) => h.handler)].map((name) => ({
      name,
      // berth makes binds recursively read-only itself (a createContainer hook, src/oci/mounts.ts), for every handler.
      // User namespaces where the start-up probe ran a container in one (src/oci/userns-probe.ts); elsewhere they are refused with its reason.
      features: { recursiveReadOnlyMounts: true, userNamespaces: !!handlerOf(name).status.userns },
    })),
    // Supplementary groups follow supplemental_groups_policy and ContainerStatus reports them.
    features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: false, mountOptions: false },
  };
}
