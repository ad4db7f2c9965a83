// What the CNI layer gets to know about a pod, taken from its CRI config: the CNI_ARGS
// names and the inputs of the capability args (port mappings for portmap, annotations
// for bandwidth/ips/mac, the DNS config, the pod cgroup).
import { isIP } from 'node:net';
import type { PodNetArgs, PortMapping } from '../cni/cni.js';
import { invalid } from '../errors.js';
import { Protocol, type PodSandboxConfig } from '../gen/runtime/v1/api.js';
import type { PodRecord } from './pod.js';

const protocols: Record<number, string> = { [Protocol.TCP]: 'tcp', [Protocol.UDP]: 'udp', [Protocol.SCTP]: 'sctp' };

/** Port mappings for the portmap plugin; hostPort 0 means "no host port" (only documentation), so it is left out. */
export function portMappings(cfg: PodSandboxConfig): PortMapping[] {
  return cfg.portMappings
    .filter((p) => p.hostPort > 0)
    .map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: protocols[p.protocol] ?? 'tcp',
      ...(p.hostIp ? { hostIP: p.hostIp } : {}),
    }));
}

/** Port mappings the portmap plugin (and iptables) can take, or INVALID_ARGUMENT naming the bad one. */
export function validatePortMappings(cfg: PodSandboxConfig): void {
  for (const p of cfg.portMappings) {
    const what = `port mapping ${JSON.stringify({ hostPort: p.hostPort, containerPort: p.containerPort, hostIp: p.hostIp })}`;
    if (!(p.protocol in protocols)) throw invalid(`${what}: unknown protocol ${p.protocol}`);
    if (!Number.isInteger(p.hostPort) || p.hostPort < 0 || p.hostPort > 65535) throw invalid(`${what}: hostPort must be 0…65535`);
    if (p.containerPort < 0 || p.containerPort > 65535 || (p.hostPort > 0 && p.containerPort === 0)) throw invalid(`${what}: containerPort must be 1…65535`);
    if (p.hostIp && !isIP(p.hostIp)) throw invalid(`${what}: hostIp is not an IP address`);
  }
}

export function podNetArgs(pod: PodRecord, cfg: PodSandboxConfig, netns = pod.namespaces.network ?? ''): PodNetArgs {
  const m = cfg.metadata!;
  const dns = cfg.dnsConfig;
  return {
    podId: pod.id,
    netns,
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    portMappings: portMappings(cfg),
    annotations: cfg.annotations,
    ...(dns ? { dns: { servers: dns.servers, searches: dns.searches, options: dns.options } } : {}),
    cgroupPath: pod.cgroupPath,
  };
}
