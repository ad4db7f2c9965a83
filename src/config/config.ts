// berthd configuration: embedded defaults < TOML config file < command-line flags.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { invalid } from '../errors.js';

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
  defaultRuntime: string;
  runtimes: Record<string, RuntimeHandlerConfig>;
  /** registries.conf (v2) path; CONTAINERS_REGISTRIES_CONF wins, as for the containers tools. */
  registriesConf: string;
  /** A static binary used to probe that each runtime handler can really run a container. */
  probeBinary: string;
  /** Seconds a `create` may take before the monitor is killed and the create rolled back. */
  createTimeoutSeconds: number;
  /**
   * Most bytes one layer may unpack to (a gzip bomb stops here). The free space of the
   * image store, less a 1 GiB reserve, lowers it further at pull time.
   */
  maxLayerBytes: number;
  /** Layers a pull fetches and extracts at once. */
  maxConcurrentDownloads: number;
  /** Registry credentials (containers-auth.json / Docker config.json); default: REGISTRY_AUTH_FILE, then the usual places. */
  authFile?: string;
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
    defaultRuntime: 'runc',
    runtimes: { runc: { path: 'runc' }, crun: { path: 'crun' } },
    registriesConf: '/etc/containers/registries.conf',
    probeBinary: '/bin/busybox',
    createTimeoutSeconds: 60,
    maxLayerBytes: 64 * 1024 ** 3,
    maxConcurrentDownloads: 3,
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
  '--default-runtime': 'defaultRuntime',
  '--registries-conf': 'registriesConf',
};

export const usage = `usage: berthd [--version] [--help] [--config /etc/berth/berth.toml] [--socket /run/berth/berth.sock]
       [--root /var/lib/berth] [--runtime-dir /run/berth] [--log-level info]
       [--cni-conf-dir /etc/cni/net.d] [--cni-plugin-dir /opt/cni/bin:/usr/lib/cni]
       [--cgroup-root /berth] [--default-runtime runc] [--registries-conf PATH]`;

/** TOML keys are snake_case: socket, root, runtime_dir, cni_plugin_dirs, [runtimes.<name>] … */
function fromToml(file: string): Partial<Config> {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`config ${file}: ${(e as Error).message}`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  return out as Partial<Config>;
}

export function loadConfig(argv: string[]): Config {
  const flags: Partial<Record<keyof Config, string>> = {};
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw invalid(`flag ${name} needs a value\n${usage}`);
    if (name === '--config') configFile = value;
    else if (flagNames[name]) flags[flagNames[name]] = value;
    else throw invalid(`unknown flag ${name}\n${usage}`);
  }
  const cfg = defaults();
  const file = configFile ?? '/etc/berth/berth.toml';
  if (configFile || existsSync(file)) Object.assign(cfg, fromToml(file));
  for (const [k, v] of Object.entries(flags) as [keyof Config, string][]) {
    if (k === 'cniPluginDirs') cfg.cniPluginDirs = v.split(':').filter(Boolean);
    else (cfg as unknown as Record<string, unknown>)[k] = v;
  }
  // As for the containers tools, the environment variable wins over file and flag.
  if (process.env.CONTAINERS_REGISTRIES_CONF) cfg.registriesConf = process.env.CONTAINERS_REGISTRIES_CONF;
  for (const k of ['socket', 'root', 'runtimeDir'] as const) cfg[k] = path.resolve(cfg[k]);
  if (!cfg.runtimes[cfg.defaultRuntime]) throw invalid(`default runtime ${cfg.defaultRuntime} is not in [runtimes]`);
  return cfg;
}
