// Capability args (CNI CONVENTIONS.md): what the runtime knows about a pod, handed to the
// plugins that declare `capabilities: {<name>: true}` in their config, inside
// `runtimeConfig` — as libcni's injectRuntimeConfig does. Pure, so unit-tested.
import { invalid } from '../errors.js';
import type { PluginConf, PodNetArgs } from './types.js';

export const INGRESS_ANNOTATION = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_ANNOTATION = 'kubernetes.io/egress-bandwidth';
/** berth's own keys for the `ips` and `mac` capabilities (the kubelet has no field for them). */
export const IPS_ANNOTATION = 'berth.io/ips';
export const MAC_ANNOTATION = 'berth.io/mac';
export const POD_ANNOTATIONS_CAP = 'io.kubernetes.cri.pod-annotations';

const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes quantity ("10M", "1Gi", "1e6") as a whole number, rounded up as Quantity.Value() does. */
export function parseQuantity(s: string): number {
  const m = /^([+]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`${JSON.stringify(s)} is not a quantity`);
  const n = Number(m[1]);
  const mult = m[2] ? (binary[m[2]] ?? decimal[m[2]]!) : m[3] ? 10 ** Number(m[3]) : 1;
  return Math.ceil(n * mult);
}

/**
 * The bandwidth capability from the pod annotations, in bits per second, with the
 * kubelet's bounds (1 kbit … 1 Pbit). The burst is the largest the bandwidth plugin
 * takes without overflow (as containerd sets it).
 */
export function bandwidthFrom(annotations: Record<string, string>): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const [key, dir] of [[INGRESS_ANNOTATION, 'ingress'], [EGRESS_ANNOTATION, 'egress']] as const) {
    const v = annotations[key];
    if (v === undefined) continue;
    let rate: number;
    try {
      rate = parseQuantity(v);
    } catch (e) {
      throw invalid(`annotation ${key}: ${(e as Error).message}`);
    }
    if (rate < 1e3 || rate > 1e15) throw invalid(`annotation ${key}: ${v} is outside 1k…1P bits per second`);
    out[`${dir}Rate`] = rate;
    out[`${dir}Burst`] = 2 ** 32 - 1;
  }
  return Object.keys(out).length ? out : undefined;
}

/** All capability args berth can offer for this pod (each plugin gets the ones it declares). */
export function capabilityArgs(a: PodNetArgs, podCidr?: string): Record<string, unknown> {
  const ann = a.annotations ?? {};
  const caps: Record<string, unknown> = {};
  const ports = (a.portMappings ?? []).filter((p) => p.hostPort > 0);
  if (ports.length) caps.portMappings = ports;
  const bw = bandwidthFrom(ann);
  if (bw) caps.bandwidth = bw;
  if (ann[IPS_ANNOTATION]) caps.ips = ann[IPS_ANNOTATION].split(',').map((s) => s.trim()).filter(Boolean);
  if (ann[MAC_ANNOTATION]) caps.mac = ann[MAC_ANNOTATION].trim();
  if (a.dns && (a.dns.servers.length || a.dns.searches.length || a.dns.options.length)) caps.dns = { ...a.dns };
  caps[POD_ANNOTATIONS_CAP] = { ...ann };
  if (a.cgroupPath) caps.cgroupPath = a.cgroupPath;
  // One range set per CIDR: host-local then allocates one IP from each (dual-stack).
  if (podCidr) caps.ipRanges = podCidr.split(',').map((subnet) => [{ subnet }]);
  return caps;
}

/** The `runtimeConfig` one plugin gets: only what it declared, only what berth has. */
export function runtimeConfigFor(plugin: PluginConf, caps: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [name, wanted] of Object.entries(plugin.capabilities ?? {})) {
    if (wanted === true && caps[name] !== undefined) out[name] = caps[name];
  }
  return Object.keys(out).length ? out : undefined;
}
