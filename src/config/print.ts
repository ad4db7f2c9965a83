// `berthd config` / `berthd config --default`: a configuration as commented TOML that
// berthd reads back unchanged (snake_case keys, runtime handlers as tables).
import { stringify } from 'smol-toml';
import { type Config, defaults } from './config.js';
import { envName, snake } from './sources.js';

const help: Partial<Record<keyof Config, string>> = {
  socket: 'CRI gRPC socket (unix), mode 0600',
  root: 'persistent state: images, layers, pod and container records',
  runtimeDir: 'runtime state (gone after a reboot): bundles, pinned namespaces',
  logLevel: 'pino level: trace, debug, info, warn, error, fatal (SIGHUP reloads it)',
  cniConfDir: 'CNI network configs; the first .conflist/.conf (lexically) is used',
  cniPluginDirs: 'where CNI plugin binaries are looked up, in order',
  cgroupRoot: 'cgroup for pods that come without a kubelet cgroup_parent',
  cgroupDriver: '"cgroupfs" or "systemd" (slices and scopes; needs systemd as PID 1): the kubelet\'s --cgroup-driver must match',
  defaultRuntime: 'runtime handler for pods that name none',
  registriesConf: 'containers-registries.conf v2, with its registries.conf.d/*.conf drop-ins (SIGHUP reloads it)',
  criuPath: 'CRIU binary for CheckpointContainer (checked with `criu check` before each use)',
  registryCertsDirs: 'certs.d directories: <dir>/<host[:port]>/*.crt are CAs trusted for that registry, <name>.cert + <name>.key client certificates (read at each pull)',
  probeBinary: 'static binary used to probe each runtime handler at start-up',
  createTimeoutSeconds: 'longest the runtime may take to create and start a container (StartContainer) before it is undone',
  unclaimedCreateGraceSeconds: 'how long a pod/container created after the kubelet gave up waits for its retry before it is removed',
  maxLayerBytes: 'most bytes one image layer may unpack to',
  metricsAddress: 'Prometheus metrics at http://<host:port>/metrics, e.g. "127.0.0.1:9464"; empty = off',
  idleReleaseSeconds: 'after this long without a state-changing RPC, berthd returns free heap and unmaps clean pages of its executable (0: never)',
  cniPluginTimeoutSeconds: 'longest one CNI plugin call may take before it is killed (the pod creation is rolled back)',
  streamAddress: 'address of the streaming server (the URLs Exec/Attach/PortForward hand out)',
  streamPort: 'TCP port of the streaming server; 0 = any free port',
  streamTlsCert: 'PEM certificate for the streaming server; with stream_tls_key it speaks HTTPS',
  streamTlsKey: 'PEM private key for stream_tls_cert',
};

export function printConfig(cfg: Config, title: string): string {
  const base = defaults() as unknown as Record<string, unknown>;
  const lines = [`# ${title}`, '# Precedence: flags > environment > /etc/berth/berth.toml + berth.d/*.toml > defaults.', ''];
  const c = cfg as unknown as Record<string, unknown>;
  for (const key of Object.keys(c).sort() as Array<keyof Config>) {
    if (key === 'runtimes') continue;
    if (help[key]) lines.push(`# ${help[key]}`);
    lines.push(`# env ${envName(key)}${JSON.stringify(c[key]) === JSON.stringify(base[key]) ? '' : ' (changed from the default)'}`);
    lines.push(stringify({ [snake(key)]: c[key] }).trim(), '');
  }
  lines.push('# OCI runtime handlers (RuntimeClass handler names): binary path and optional state root');
  lines.push(stringify({ runtimes: cfg.runtimes }).trim(), '');
  return lines.join('\n');
}
