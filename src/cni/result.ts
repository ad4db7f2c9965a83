// Result conversion between the CNI result formats: 0.1.0/0.2.0 (ip4/ip6 objects),
// 0.3.x/0.4.0 (`ips` carrying a `version`) and 1.x (`ips` without it). berth keeps
// results in the 1.x shape and hands each plugin its prevResult in the network's version,
// as libcni does, so plugins of any spec generation can be chained.
import type { CniResult } from './types.js';

/** Compares dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

interface LegacyIpConfig {
  ip: string;
  gateway?: string;
  routes?: Array<{ dst: string; gw?: string }>;
}

const isV6 = (cidr: string) => cidr.includes(':');

/** Any result a plugin printed, in the 1.x shape. Throws on something that is not a result. */
export function toCurrent(raw: unknown): CniResult {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('a CNI result must be a JSON object');
  const r = raw as Record<string, unknown>;
  const version = typeof r.cniVersion === 'string' ? r.cniVersion : '0.2.0';
  if (compareVersions(version, '0.3.0') < 0) {
    // 0.1/0.2: one IP per family, routes inside each; no interfaces.
    const out: CniResult = { cniVersion: '1.0.0', ips: [], routes: [] };
    for (const key of ['ip4', 'ip6'] as const) {
      const c = r[key] as LegacyIpConfig | undefined;
      if (!c?.ip) continue;
      out.ips!.push({ address: c.ip, ...(c.gateway ? { gateway: c.gateway } : {}) });
      for (const rt of c.routes ?? []) out.routes!.push({ ...rt });
    }
    if (r.dns) out.dns = r.dns as CniResult['dns'];
    return out;
  }
  const out = { ...r, cniVersion: '1.0.0' } as CniResult;
  if (Array.isArray(r.ips)) {
    out.ips = (r.ips as Array<Record<string, unknown>>).map(({ version: _v, ...ip }) => ip as { address: string; gateway?: string; interface?: number });
  }
  return out;
}

/** The 1.x-shaped result in the format of `version` (for prevResult and the cache). */
export function toVersion(r: CniResult, version: string): Record<string, unknown> {
  if (compareVersions(version, '0.3.0') < 0) {
    const out: Record<string, unknown> = { cniVersion: version };
    for (const [key, v6] of [['ip4', false], ['ip6', true]] as const) {
      const ip = r.ips?.find((x) => isV6(x.address) === v6);
      if (!ip) continue;
      const routes = (r.routes ?? []).filter((x) => isV6(x.dst) === v6).map(({ dst, gw }) => ({ dst, ...(gw ? { gw } : {}) }));
      out[key] = { ip: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}), ...(routes.length ? { routes } : {}) };
    }
    if (r.dns) out.dns = r.dns;
    return out;
  }
  const out: Record<string, unknown> = { ...r, cniVersion: version };
  if (compareVersions(version, '1.0.0') < 0 && r.ips) {
    out.ips = r.ips.map((ip) => ({ version: isV6(ip.address) ? '6' : '4', ...ip }));
  }
  return out;
}

/**
 * The pod's addresses on `ifName`, IPv4 first (the CRI's primary IP), without prefix
 * lengths. An IP whose `interface` points elsewhere (a host-side veth) is not the pod's;
 * one with no interface index is taken as the pod's, as the kubelet's dockershim did.
 */
export function podIps(r: CniResult, ifName: string): string[] {
  const ifs = r.interfaces ?? [];
  const mine = (r.ips ?? []).filter((ip) => {
    if (ip.interface === undefined || !ifs[ip.interface]) return true;
    const i = ifs[ip.interface]!;
    return i.name === ifName && !!i.sandbox;
  });
  const bare = mine.map((ip) => ip.address.split('/')[0]!);
  return [...new Set([...bare.filter((a) => !isV6(a)), ...bare.filter(isV6)])];
}
