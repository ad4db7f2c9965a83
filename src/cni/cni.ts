// A small libcni equivalent: network config discovery, plugin execution per the CNI
// spec (ADD chained with prevResult, DEL in reverse), and a result cache in libcni's
// on-disk format so DEL gets the exact config and result ADD used.
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { internal, precondition } from '../errors.js';
import { writeRecord } from '../store/records.js';
import { run } from '../oci/exec-file.js';

interface PluginConf {
  type: string;
  [k: string]: unknown;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
  /** The file it came from, and its bytes (cached for DEL). */
  file: string;
  raw: string;
}

export interface PodNetArgs {
  podId: string;
  netns: string;
  namespace: string;
  name: string;
  uid: string;
}

interface CacheEntry {
  kind: 'cni#v1';
  containerId: string;
  config: string; // base64 of the conflist bytes, as libcni stores it
  ifName: string;
  networkName: string;
  result: CniResult;
}

export interface CniResult {
  cniVersion?: string;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  [k: string]: unknown;
}

const IFNAME = 'eth0';

/** A .conflist, or a single-plugin .conf treated as a list of one (as libcni does). */
function parseConfList(raw: string, file: string): NetworkConfList {
  const doc = JSON.parse(raw) as { cniVersion?: string; name?: string; plugins?: PluginConf[]; type?: string };
  const plugins = doc.plugins ?? (doc.type ? [doc as PluginConf] : []);
  if (!doc.name || plugins.length === 0 || plugins.some((p) => !p.type)) {
    throw new Error('a network config needs a name and plugins with a type');
  }
  return { cniVersion: doc.cniVersion ?? '0.4.0', name: doc.name, plugins, file, raw };
}
const PLUGIN_TIMEOUT_MS = 60_000;

export class Cni {
  constructor(
    private readonly confDir: string,
    private readonly pluginDirs: string[],
    private readonly cacheDir: string,
  ) {}

  /** The first (lexically) valid network config, or why there is none. */
  load(): { conf?: NetworkConfList; error?: string } {
    let files: string[];
    try {
      files = readdirSync(this.confDir).filter((f) => /\.(conflist|conf|json)$/.test(f)).sort();
    } catch {
      return { error: `no CNI config directory ${this.confDir}` };
    }
    if (files.length === 0) return { error: `no network config found in ${this.confDir}` };
    const file = path.join(this.confDir, files[0]!);
    try {
      return { conf: parseConfList(readFileSync(file, 'utf8'), file) };
    } catch (e) {
      return { error: `${file}: ${(e as Error).message}` };
    }
  }

  private findPlugin(type: string): string {
    if (type.includes('/')) throw precondition(`CNI plugin type ${JSON.stringify(type)} is not a plain name`);
    for (const d of this.pluginDirs) {
      const p = path.join(d, type);
      if (existsSync(p)) return p;
    }
    throw precondition(`CNI plugin ${type} not found in ${this.pluginDirs.join(':')}`);
  }

  private async exec(cmd: 'ADD' | 'DEL', conf: NetworkConfList, plugin: PluginConf, a: PodNetArgs, prev?: CniResult): Promise<CniResult | undefined> {
    const bin = this.findPlugin(plugin.type);
    const stdin = JSON.stringify({ ...plugin, cniVersion: conf.cniVersion, name: conf.name, ...(prev ? { prevResult: prev } : {}) });
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: a.podId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: IFNAME,
      CNI_PATH: this.pluginDirs.join(':'),
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${a.namespace};K8S_POD_NAME=${a.name};K8S_POD_INFRA_CONTAINER_ID=${a.podId};K8S_POD_UID=${a.uid}`,
    };
    const r = await run(bin, [], { input: stdin, env, timeoutMs: PLUGIN_TIMEOUT_MS });
    if (r.timedOut) throw internal(`CNI ${cmd} ${plugin.type} for pod ${a.podId}: timed out after ${PLUGIN_TIMEOUT_MS} ms`);
    const out = r.stdout.toString().trim();
    if (r.code !== 0) {
      let detail = out || r.stderr.toString().trim();
      try {
        const e = JSON.parse(out) as { code?: number; msg?: string; details?: string };
        detail = `code ${e.code}: ${e.msg}${e.details ? ` (${e.details})` : ''}`;
      } catch {
        /* not JSON */
      }
      throw internal(`CNI ${cmd} ${plugin.type} for pod ${a.podId} failed: ${detail}`);
    }
    if (cmd === 'DEL' || !out) return prev;
    return JSON.parse(out) as CniResult;
  }

  private cacheFile(network: string, podId: string): string {
    return path.join(this.cacheDir, `${network}-${podId}-${IFNAME}`);
  }

  /** ADD through the chain; a failed ADD is followed by DEL so nothing stays allocated. */
  async add(a: PodNetArgs): Promise<{ result: CniResult; network: string; ips: string[] }> {
    const { conf, error } = this.load();
    if (!conf) throw precondition(`network not ready: ${error}`);
    // The cache entry is written before ADD (without a result), so that DEL can run with the
    // same config even if berthd dies half-way through the chain.
    const entry: CacheEntry = {
      kind: 'cni#v1',
      containerId: a.podId,
      config: Buffer.from(conf.raw).toString('base64'),
      ifName: IFNAME,
      networkName: conf.name,
      result: {},
    };
    const cache = this.cacheFile(conf.name, a.podId);
    await writeRecord(cache, entry);
    let result: CniResult | undefined;
    try {
      for (const p of conf.plugins) result = await this.exec('ADD', conf, p, a, result);
    } catch (e) {
      await this.delWith(conf, a, result).catch(() => undefined);
      await fs.rm(cache, { force: true });
      throw e;
    }
    result ??= {};
    entry.result = result;
    await writeRecord(cache, entry);
    const ips = (result.ips ?? []).map((ip) => ip.address.split('/')[0]!).sort((x, y) => Number(x.includes(':')) - Number(y.includes(':')));
    return { result, network: conf.name, ips };
  }

  /** DEL through every plugin in reverse even if one fails (so the IPAM still releases); the first error is thrown after. */
  private async delWith(conf: NetworkConfList, a: PodNetArgs, prev?: CniResult): Promise<void> {
    let first: unknown;
    for (const p of [...conf.plugins].reverse()) {
      try {
        await this.exec('DEL', conf, p, a, prev);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  /** DEL with the cached config and result (idempotent: no cache entry means nothing to do). */
  async del(network: string, a: PodNetArgs): Promise<void> {
    const file = this.cacheFile(network, a.podId);
    let entry: CacheEntry;
    try {
      entry = JSON.parse(await fs.readFile(file, 'utf8')) as CacheEntry;
    } catch {
      return;
    }
    const conf = parseConfList(Buffer.from(entry.config, 'base64').toString('utf8'), file);
    await this.delWith(conf, a, Object.keys(entry.result).length ? entry.result : undefined);
    await fs.rm(file, { force: true });
  }

  /** DEL for every network this pod has a cache entry in (start-up undo of an interrupted ADD). */
  async delAll(a: PodNetArgs): Promise<void> {
    let files: string[] = [];
    try {
      files = await fs.readdir(this.cacheDir);
    } catch {
      return;
    }
    const suffix = `-${a.podId}-${IFNAME}`;
    for (const f of files.filter((x) => x.endsWith(suffix))) await this.del(f.slice(0, -suffix.length), a);
  }
}
