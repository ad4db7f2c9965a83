// A libcni equivalent: ADD through the chain with prevResult, DEL in reverse, CHECK,
// STATUS and GC (CNI 1.1), capability args, version negotiation and result conversion,
// with every attachment recorded in a libcni-format cache so teardown never depends on
// the config of the moment. Modules: conf (discovery), exec (one plugin call), result
// (format conversion), capabilities (runtimeConfig), cache (on-disk attachments).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { invalid, precondition } from '../errors.js';
import { writeRecord } from '../store/records.js';
import { type CacheEntry, AttachmentCache } from './cache.js';
import { capabilityArgs, runtimeConfigFor } from './capabilities.js';
import { ConfSource, parseConfList } from './conf.js';
import { type CniCommand, execPlugin, findPlugin } from './exec.js';
import { compareVersions, podIps, toCurrent, toVersion } from './result.js';
import { type CniResult, IFNAME, type NetworkConfList, type PluginConf, type PodNetArgs } from './types.js';

export type { CniResult, NetworkConfList, PodNetArgs, PortMapping } from './types.js';

function isCidr(c: string): boolean {
  const [ip, len, ...rest] = c.split('/');
  const family = isIP(ip ?? '');
  const n = Number(len);
  return !rest.length && family !== 0 && /^\d+$/.test(len ?? '') && n <= (family === 4 ? 32 : 128);
}

export interface CniOptions {
  timeoutMs?: number;
  /** Delays between DEL attempts (a DEL that fails is tried again after each). */
  delRetryMs?: number[];
  /** Where the pod CIDR from UpdateRuntimeConfig is kept across restarts. */
  stateFile?: string;
}

/** A network config plus each plugin's binary, checked to speak the config's version. */
interface Resolved {
  conf: NetworkConfList;
  bins: string[];
}

export class Cni {
  private readonly source: ConfSource;
  readonly cache: AttachmentCache;
  private readonly timeoutMs: number;
  private readonly delRetryMs: number[];
  private podCidr?: string;
  private readonly stateFile?: string;
  /** VERSION answers by binary (path, size, mtime): asked once per plugin build. */
  private readonly versions = new Map<string, string[] | null>();

  constructor(
    confDir: string,
    private readonly pluginDirs: string[],
    cacheDir: string,
    opts: CniOptions = {},
  ) {
    this.source = new ConfSource(confDir);
    this.cache = new AttachmentCache(cacheDir);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.delRetryMs = opts.delRetryMs ?? [250, 1000];
    this.stateFile = opts.stateFile;
    if (this.stateFile) {
      try {
        this.podCidr = (JSON.parse(readFileSync(this.stateFile, 'utf8')) as { podCidr?: string }).podCidr || undefined;
      } catch {
        /* none yet */
      }
    }
  }

  /** For `crictl info` (verbose Status): where berth looks, what it found, the pod CIDR. */
  describe(): Record<string, unknown> {
    const { conf, error } = this.load();
    return {
      confDir: this.source.dir, pluginDirs: this.pluginDirs, timeoutMs: this.timeoutMs, podCidr: this.podCidr ?? '',
      ...(conf ? { network: conf.name, file: conf.file, cniVersion: conf.cniVersion, plugins: conf.plugins.map((p) => p.type) } : { error }),
    };
  }

  /** The network config as it is on disk now, or why there is none. */
  load(): { conf?: NetworkConfList; error?: string } {
    return this.source.current();
  }

  /**
   * UpdateRuntimeConfig's pod CIDR (the kubelet sends "v4,v6" on dual-stack nodes), passed
   * as the `ipRanges` capability to plugins that declare it (host-local does) from now on.
   * Kept on disk: the kubelet sends it again only when it changes, not when berthd restarts.
   */
  async setPodCidr(cidr: string): Promise<void> {
    const cidrs = cidr.split(',').map((c) => c.trim()).filter(Boolean);
    for (const c of cidrs) if (!isCidr(c)) throw invalid(`pod CIDR ${JSON.stringify(c)} is not an IPv4 or IPv6 CIDR`);
    this.podCidr = cidrs.length ? cidrs.join(',') : undefined;
    if (this.stateFile) await writeRecord(this.stateFile, { podCidr: this.podCidr ?? '' });
  }

  /** VERSION of one plugin binary (null: it does not answer VERSION; then it is not judged). */
  private async supportedVersions(bin: string, confVersion: string): Promise<string[] | null> {
    const st = statSync(bin);
    const key = `${bin}:${st.size}:${st.mtimeMs}`;
    if (!this.versions.has(key)) {
      let v: string[] | null = null;
      try {
        const out = (await execPlugin({ command: 'VERSION', bin, stdin: { cniVersion: confVersion }, pluginDirs: this.pluginDirs, timeoutMs: this.timeoutMs, what: 'VERSION' })) as { supportedVersions?: unknown } | undefined;
        if (Array.isArray(out?.supportedVersions)) v = out.supportedVersions.filter((x): x is string => typeof x === 'string');
      } catch {
        v = null;
      }
      this.versions.set(key, v);
    }
    return this.versions.get(key)!;
  }

  /** Every plugin found and speaking the config's cniVersion, or a clear error naming the one that is not. */
  private async resolve(conf: NetworkConfList): Promise<Resolved> {
    const bins: string[] = [];
    for (const p of conf.plugins) {
      const bin = findPlugin(p.type, this.pluginDirs);
      const vs = await this.supportedVersions(bin, conf.cniVersion);
      if (vs && !vs.includes(conf.cniVersion)) {
        throw precondition(`CNI plugin ${p.type} (${bin}) speaks CNI ${vs.join(', ')}, not the network ${conf.name}'s cniVersion ${conf.cniVersion}`);
      }
      bins.push(bin);
    }
    return { conf, bins };
  }

  private async current(): Promise<Resolved> {
    const { conf, error } = this.load();
    if (!conf) throw precondition(`network not ready: ${error}`);
    return this.resolve(conf);
  }

  /**
   * NetworkReady: a parseable config whose plugins exist and speak its version; for a
   * CNI 1.1 config, every plugin's STATUS succeeds too.
   */
  async status(): Promise<{ ready: boolean; message: string }> {
    try {
      const r = await this.current();
      if (compareVersions(r.conf.cniVersion, '1.1.0') >= 0) {
        for (let i = 0; i < r.conf.plugins.length; i++) {
          await execPlugin({ command: 'STATUS', bin: r.bins[i]!, stdin: this.stdin(r.conf, r.conf.plugins[i]!), pluginDirs: this.pluginDirs, timeoutMs: this.timeoutMs, what: `STATUS of network ${r.conf.name}` });
        }
      }
      return { ready: true, message: '' };
    } catch (e) {
      return { ready: false, message: (e as Error).message.replace(/^network not ready: /, '') };
    }
  }

  /** What a plugin reads on stdin: its own config plus the list's name and version (libcni buildOneConfig). */
  private stdin(conf: NetworkConfList, plugin: PluginConf, caps?: Record<string, unknown>, prev?: CniResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const rc = caps ? runtimeConfigFor(plugin, caps) : undefined;
    return {
      ...plugin,
      cniVersion: conf.cniVersion,
      name: conf.name,
      ...(rc ? { runtimeConfig: { ...((plugin.runtimeConfig as object | undefined) ?? {}), ...rc } } : {}),
      ...(prev ? { prevResult: toVersion(prev, conf.cniVersion) } : {}),
      ...extra,
    };
  }

  private cniArgs(a: PodNetArgs): Array<[string, string]> {
    return [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', a.namespace],
      ['K8S_POD_NAME', a.name],
      ['K8S_POD_INFRA_CONTAINER_ID', a.podId],
      ['K8S_POD_UID', a.uid],
    ];
  }

  private call(command: CniCommand, r: Resolved, i: number, e: CacheEntry, prev?: CniResult): Promise<unknown> {
    const plugin = r.conf.plugins[i]!;
    // prevResult on DEL and CHECK came with spec 0.4.0; older plugins never see it there.
    const withPrev = command === 'ADD' || compareVersions(r.conf.cniVersion, '0.4.0') >= 0 ? prev : undefined;
    return execPlugin({
      command,
      bin: r.bins[i]!,
      stdin: this.stdin(r.conf, plugin, e.capabilityArgs, withPrev),
      pluginDirs: this.pluginDirs,
      timeoutMs: this.timeoutMs,
      containerId: e.containerId,
      netns: e.netns ?? '',
      ifName: e.ifName,
      args: e.cniArgs,
      what: `${command} ${plugin.type} for pod ${e.containerId.slice(0, 12)}`,
    });
  }

  /** ADD through the chain; a failed ADD is followed by DEL so nothing stays allocated. */
  async add(a: PodNetArgs): Promise<{ result: CniResult; network: string; ips: string[] }> {
    const r = await this.current();
    const entry: CacheEntry = {
      kind: 'cniCacheV1',
      containerId: a.podId,
      config: Buffer.from(r.conf.raw).toString('base64'),
      ifName: IFNAME,
      networkName: r.conf.name,
      netns: a.netns,
      cniArgs: this.cniArgs(a),
      capabilityArgs: capabilityArgs(a, this.podCidr),
    };
    // Written before ADD (without a result), so that DEL can run with the same config
    // and capability args even if berthd dies half-way through the chain.
    await this.cache.write(entry);
    let result: CniResult | undefined;
    try {
      for (let i = 0; i < r.conf.plugins.length; i++) {
        const out = await this.call('ADD', r, i, entry, result);
        // A plugin that prints nothing on ADD (a spec violation some meta plugins commit) passes the result on.
        if (out !== undefined) result = toCurrent(out);
      }
    } catch (e) {
      await this.delChain(r, entry, result).catch(() => undefined);
      await this.cache.remove(entry);
      throw e;
    }
    result ??= { cniVersion: r.conf.cniVersion };
    entry.result = toVersion(result, r.conf.cniVersion);
    await this.cache.write(entry);
    return { result, network: r.conf.name, ips: podIps(result, IFNAME) };
  }

  /** DEL through every plugin in reverse even if one fails (so the IPAM still releases); the first error is thrown after. */
  private async delChain(r: Resolved, e: CacheEntry, prev?: CniResult): Promise<void> {
    let first: unknown;
    for (let i = r.conf.plugins.length - 1; i >= 0; i--) {
      try {
        await this.call('DEL', r, i, e, prev);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }

  /** The cached config, with its plugins found (they may live elsewhere now; DEL still needs them). */
  private async resolveCached(e: CacheEntry): Promise<Resolved> {
    const conf = parseConfList(Buffer.from(e.config, 'base64').toString('utf8'), this.cache.file(e.networkName, e.containerId, e.ifName));
    return { conf, bins: conf.plugins.map((p) => findPlugin(p.type, this.pluginDirs)) };
  }

  /** DEL of one cached attachment, tried again after each delay in delRetryMs; the cache entry goes once DEL succeeded. */
  private async delEntry(e: CacheEntry): Promise<void> {
    // A netns that is gone (a reboot, a lost pin) is passed as "", which plugins take as
    // "release what you hold outside it" (IPAM, iptables) rather than failing to enter it.
    if (e.netns && !existsSync(e.netns)) e = { ...e, netns: '' };
    const prev = e.result ? toCurrent(e.result) : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.delChain(await this.resolveCached(e), e, prev);
        break;
      } catch (err) {
        const wait = this.delRetryMs[attempt];
        if (wait === undefined) throw err;
        await new Promise((res) => setTimeout(res, wait));
      }
    }
    await this.cache.remove(e);
  }

  /** DEL with the cached config, args and result (idempotent: no cache entry means nothing to do). */
  async del(network: string, a: PodNetArgs): Promise<void> {
    const e = await this.cache.read(network, a.podId, IFNAME);
    if (!e) return;
    // The pod's netns path of now (pins move with the runtime dir); "" once it is gone.
    await this.delEntry({ ...e, netns: a.netns });
  }

  /** DEL for every network this pod has a cache entry in (start-up undo of an interrupted ADD). */
  async delAll(a: PodNetArgs): Promise<void> {
    for (const e of (await this.cache.list()).filter((x) => x.containerId === a.podId)) await this.delEntry({ ...e, netns: a.netns });
  }

  /**
   * CHECK (spec 0.4.0+) of a pod's attachment with its cached config and result: throws
   * what the first plugin found wrong. Skipped for configs that say disableCheck.
   */
  async check(network: string, a: PodNetArgs): Promise<void> {
    const e = await this.cache.read(network, a.podId, IFNAME);
    if (!e?.result) throw precondition(`pod ${a.podId} has no completed attachment to network ${network}`);
    const r = await this.resolveCached(e);
    if (r.conf.disableCheck || compareVersions(r.conf.cniVersion, '0.4.0') < 0) return;
    const prev = toCurrent(e.result);
    for (let i = 0; i < r.conf.plugins.length; i++) await this.call('CHECK', r, i, { ...e, netns: a.netns }, prev);
  }

  /**
   * GC as libcni's GCNetworkList does it: every cached attachment not in `valid` is
   * DELeted with its cached config (so IPs of pods that vanished in a crash are released)
   * and then, for a CNI 1.1 config, each plugin gets GC with the valid attachments.
   * Returns the attachments that were released.
   */
  async gc(valid: Array<{ containerId: string; ifName?: string }>, onError: (what: string, e: Error) => void = () => undefined): Promise<string[]> {
    const keep = new Set(valid.map((v) => `${v.containerId}/${v.ifName ?? IFNAME}`));
    const released: string[] = [];
    for (const e of await this.cache.list()) {
      if (keep.has(`${e.containerId}/${e.ifName}`)) continue;
      try {
        await this.delEntry({ ...e, netns: '' });
        released.push(`${e.networkName}/${e.containerId}`);
      } catch (err) {
        onError(`DEL of stale attachment ${e.networkName}/${e.containerId}`, err as Error);
      }
    }
    const { conf } = this.load();
    if (!conf || conf.disableGC || compareVersions(conf.cniVersion, '1.1.0') < 0) return released;
    try {
      const r = await this.resolve(conf);
      const attachments = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifName ?? IFNAME }));
      for (let i = 0; i < conf.plugins.length; i++) {
        await execPlugin({
          command: 'GC', bin: r.bins[i]!, stdin: this.stdin(conf, conf.plugins[i]!, undefined, undefined, { 'cni.dev/valid-attachments': attachments }),
          pluginDirs: this.pluginDirs, timeoutMs: this.timeoutMs, what: `GC of network ${conf.name}`,
        });
      }
    } catch (err) {
      onError(`GC of network ${conf.name}`, err as Error);
    }
    return released;
  }
}
