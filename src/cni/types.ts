// Shapes shared by the CNI modules: network configs, results and what a pod brings.

export interface PluginConf {
  type: string;
  /** Capability args this plugin takes in `runtimeConfig` (CNI CONVENTIONS.md). */
  capabilities?: Record<string, boolean>;
  [k: string]: unknown;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
  disableCheck?: boolean;
  disableGC?: boolean;
  /** The file it came from, and its bytes (cached for DEL). */
  file: string;
  raw: string;
}

/** A result in the current (1.x) shape; older ones are converted on the way in (result.ts). */
export interface CniResult {
  cniVersion: string;
  interfaces?: Array<{ name: string; mac?: string; mtu?: number; sandbox?: string; [k: string]: unknown }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string; [k: string]: unknown }>;
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  [k: string]: unknown;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  /** Lowercase, as portmap matches it: tcp, udp, sctp. */
  protocol: string;
  hostIP?: string;
}

/** Everything about a pod that the CNI layer turns into env vars and capability args. */
export interface PodNetArgs {
  podId: string;
  netns: string;
  namespace: string;
  name: string;
  uid: string;
  portMappings?: PortMapping[];
  annotations?: Record<string, string>;
  dns?: { servers: string[]; searches: string[]; options: string[] };
  cgroupPath?: string;
}

export const IFNAME = 'eth0';
