// berthd configuration: embedded defaults < TOML files (berth.toml, berth.d/*.toml) <
// environment (BERTH_<KEY>) < command-line flags. sources.ts reads and checks each source.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { invalid } from '../errors.js';
import { envName, mergeFile, setFromString } from './sources.js';

export interface RuntimeHandlerConfig {
  /** The OCI runtime binary (runc- or crun-compatible CLI). */
  path: string;
  /** Runtime state root; default <runtimeDir>/runtimes/<name>. */
  root?: string;
}

export interface Config {
  socket: string;
  root: string;
  runtimeDir: string;
  logLevel: string;
  cniConfDir: string;
  cniPluginDirs: string[];
  /** cgroup under which pods without a kubelet cgroup_parent are placed. */
  cgroupRoot: string;
  /**
   * "cgroupfs" (cgroup_parent is a path) or "systemd" (a slice; containers are systemd
   * scopes): must match the kubelet's --cgroup-driver, which it learns from RuntimeConfig.
   */
  cgroupDriver: string;
  defaultRuntime: string;
  runtimes: Record<string, RuntimeHandlerConfig>;
  /** registries.conf (v2) path; CONTAINERS_REGISTRIES_CONF wins, as for the containers tools. */
  registriesConf: string;
  /** CRIU, which the OCI runtime runs to checkpoint containers (`runc checkpoint --criu`). */
  criuPath: string;
  /** A static binary used to probe that each runtime handler can really run a container. */
  probeBinary: string;
  /**
   * Seconds a pod or container whose RunPodSandbox/CreateContainer finished after the caller
   * left (the kubelet's request timeout) is kept for the kubelet's retry before it is removed.
   */
  unclaimedCreateGraceSeconds: number;
  /** Seconds the runtime's `run --detach` (StartContainer) may take before the monitor is killed and the start undone. */
  createTimeoutSeconds: number;
  /**
   * Most bytes one layer may unpack to (a gzip bomb stops here). The free space of the
   * image store, less a 1 GiB reserve, lowers it further at pull time.
   */
  maxLayerBytes: number;
  /** host:port for Prometheus metrics (/metrics); empty = off. */
  metricsAddress: string;
  /** Seconds one CNI plugin call may take before it is killed (and the pod creation rolled back). */
  cniPluginTimeoutSeconds: number;
  /** The streaming server (exec/attach/port-forward URLs): address and TCP port (0 = any free port). */
  streamAddress: string;
  streamPort: number;
  /** PEM certificate and key: when both are set the streaming server speaks HTTPS (URLs say https). */
  streamTlsCert: string;
  streamTlsKey: string;
  /** Layers a pull fetches and extracts at once. */
  maxConcurrentDownloads: number;
  /**
   * Seconds without a state-changing RPC after which berthd gives back free heap and
   * unmaps clean pages of its executable (src/util/idle-release.ts); 0 = never.
   */
  idleReleaseSeconds: number;
  /** Registry credentials (containers-auth.json / Docker config.json); default: REGISTRY_AUTH_FILE, then the usual places. */
  authFile: string;
  /**
   * Per-registry TLS trust, as the containers tools read it: every `*.crt` in
   * <dir>/<host[:port]>/ is a CA trusted for that registry (client .cert/.key pairs are
   * not supported yet).
   */
  registryCertsDirs: string[];
  /** containers-policy.json(5) file (insecureAcceptAnything/reject per scope); a missing file accepts all. */
  signaturePolicy: string;
}

export function defaults(): Config {
  return {
    socket: '/run/berth/berth.sock',
    root: '/var/lib/berth',
    runtimeDir: '/run/berth',
    logLevel: 'info',
    cniConfDir: '/etc/cni/net.d',
    cniPluginDirs: ['/opt/cni/bin', '/usr/lib/cni'],
    cgroupRoot: '/berth',
    cgroupDriver: 'cgroupfs',
    defaultRuntime: 'runc',
    runtimes: { runc: { path: 'runc' }, crun: { path: 'crun' } },
    registriesConf: '/etc/containers/registries.conf',
    probeBinary: '/bin/busybox',
    criuPath: 'criu',
    createTimeoutSeconds: 60,
    // The kubelet's request timeout is 2 min and it retries at its next pod sync; CRI-O keeps such objects some minutes too.
    unclaimedCreateGraceSeconds: 240,
    maxLayerBytes: 64 * 1024 ** 3,
    metricsAddress: '',
    cniPluginTimeoutSeconds: 60,
    streamAddress: '127.0.0.1',
    streamPort: 0,
    streamTlsCert: '',
    streamTlsKey: '',
    maxConcurrentDownloads: 3,
    idleReleaseSeconds: 5,
    authFile: '',
    registryCertsDirs: ['/etc/containers/certs.d', '/etc/docker/certs.d'],
    signaturePolicy: '/etc/containers/policy.json',
  };
}

const flagNames: Record<string, keyof Config> = {
  '--socket': 'socket',
  '--root': 'root',
  '--runtime-dir': 'runtimeDir',
  '--log-level': 'logLevel',
  '--cni-conf-dir': 'cniConfDir',
  '--cni-plugin-dir': 'cniPluginDirs',
  '--cgroup-root': 'cgroupRoot',
  '--cgroup-driver': 'cgroupDriver',
  '--default-runtime': 'defaultRuntime',
  '--registries-conf': 'registriesConf',
  '--stream-address': 'streamAddress',
  '--stream-port': 'streamPort',
};

export const usage = `usage: berthd config [--default] [flags]   print the effective (or default) configuration as TOML
       berthd [--version] [--help] [--config /etc/berth/berth.toml] [--socket /run/berth/berth.sock]
       [--root /var/lib/berth] [--runtime-dir /run/berth] [--log-level info]
       [--cni-conf-dir /etc/cni/net.d] [--cni-plugin-dir /opt/cni/bin:/usr/lib/cni]
       [--cgroup-root /berth] [--cgroup-driver cgroupfs|systemd] [--default-runtime runc] [--registries-conf PATH]
       [--stream-address 127.0.0.1] [--stream-port 0]`;

export interface ConfigSources {
  /** The main file (--config, BERTH_CONFIG, else /etc/berth/berth.toml if it exists). */
  file?: string;
  /** Drop-in directory: <file's dir>/berth.d, its *.toml merged in lexical order. */
  dropInDir?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Precedence: flags > environment (BERTH_<KEY>, e.g. BERTH_LOG_LEVEL) > files (berth.toml,
 * then berth.d/*.toml in lexical order) > embedded defaults. CONTAINERS_REGISTRIES_CONF
 * is the environment name of registries_conf, as for the containers tools.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const flags: Array<[string, string]> = [];
  let configFile = env.BERTH_CONFIG || undefined;
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw invalid(`flag ${name} needs a value\n${usage}`);
    if (name === '--config') configFile = value;
    else if (flagNames[name]) flags.push([name, value]);
    else throw invalid(`unknown flag ${name}\n${usage}`);
  }
  const cfg = defaults();
  const file = configFile ?? '/etc/berth/berth.toml';
  const files = configFile || existsSync(file) ? [file] : [];
  const dropIns = path.join(path.dirname(file), 'berth.d');
  if (file !== '/dev/null' && existsSync(dropIns)) {
    files.push(...readdirSync(dropIns).filter((f) => f.endsWith('.toml')).sort().map((f) => path.join(dropIns, f)));
  }
  for (const f of files) mergeFile(cfg, f);
  for (const key of Object.keys(cfg) as Array<keyof Config>) {
    const name = envName(key);
    const v = env[name];
    if (v !== undefined && v !== '') setFromString(cfg, key, v, `environment ${name}`);
  }
  for (const [name, v] of flags) setFromString(cfg, flagNames[name]!, v, `flag ${name}`);
  for (const k of ['socket', 'root', 'runtimeDir'] as const) cfg[k] = path.resolve(cfg[k]);
  if (!cfg.streamTlsCert !== !cfg.streamTlsKey) throw invalid('stream_tls_cert and stream_tls_key go together: set both (HTTPS) or neither (HTTP)');
  if (!Number.isInteger(cfg.streamPort) || cfg.streamPort < 0 || cfg.streamPort > 65535) throw invalid(`stream port ${cfg.streamPort} is not a TCP port (0 picks a free one)`);
  if (cfg.cgroupDriver !== 'cgroupfs' && cfg.cgroupDriver !== 'systemd') throw invalid(`cgroup_driver ${JSON.stringify(cfg.cgroupDriver)}: expected "cgroupfs" or "systemd"`);
  if (!cfg.runtimes[cfg.defaultRuntime]) throw invalid(`default runtime ${cfg.defaultRuntime} is not in [runtimes]`);
  return cfg;
}
