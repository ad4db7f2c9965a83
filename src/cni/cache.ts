// The attachment cache in libcni's on-disk format (<dir>/<network>-<containerID>-<ifname>,
// kind "cniCacheV1"): the config bytes, CNI_ARGS, capability args and result of an ADD,
// so DEL/CHECK/GC run with exactly what ADD used, even after a restart or a config change.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeRecord } from '../store/records.js';

export interface CacheEntry {
  kind: 'cniCacheV1';
  containerId: string;
  /** base64 of the network config bytes, as Go marshals libcni's []byte. */
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  /** The ADD result in the network's cniVersion; absent while the ADD is under way. */
  result?: Record<string, unknown>;
}

/** berth 0.x wrote kind "cni#v1" with an empty result before ADD finished; still read. */
const KINDS = new Set(['cniCacheV1', 'cni#v1']);

export class AttachmentCache {
  constructor(readonly dir: string) {}

  file(network: string, containerId: string, ifName: string): string {
    return path.join(this.dir, `${network}-${containerId}-${ifName}`);
  }

  /**
   * Not fsynced, as libcni's cache is not: it outlives a crash of berthd (page cache), and
   * after a crash of the host DEL falls back to the current config, as libcni's does.
   */
  write(e: CacheEntry): Promise<void> {
    return writeRecord(this.file(e.networkName, e.containerId, e.ifName), e, false);
  }

  async read(network: string, containerId: string, ifName: string): Promise<CacheEntry | undefined> {
    return this.readFile(this.file(network, containerId, ifName));
  }

  private async readFile(file: string): Promise<CacheEntry | undefined> {
    let e: CacheEntry;
    try {
      e = JSON.parse(await fs.readFile(file, 'utf8')) as CacheEntry;
    } catch {
      return undefined;
    }
    if (!e || !KINDS.has(e.kind) || typeof e.config !== 'string' || typeof e.networkName !== 'string') return undefined;
    if (e.result && Object.keys(e.result).length === 0) delete e.result;
    return e;
  }

  async remove(e: Pick<CacheEntry, 'networkName' | 'containerId' | 'ifName'>): Promise<void> {
    await fs.rm(this.file(e.networkName, e.containerId, e.ifName), { force: true });
  }

  /** Every readable entry (temp files of an interrupted write are skipped). */
  async list(): Promise<CacheEntry[]> {
    let files: string[];
    try {
      files = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const out: CacheEntry[] = [];
    for (const f of files.filter((x) => !x.endsWith('.tmp'))) {
      const e = await this.readFile(path.join(this.dir, f));
      if (e) out.push(e);
    }
    return out;
  }
}
