// Network config discovery as libcni/containerd do it: the first file (lexically) in the
// conf dir with a .conflist, .conf or .json name is the network; a single-plugin .conf
// becomes a list of one. A malformed first file is an error (NetworkReady=false with the
// parse error), not skipped: the node's admin meant that file to be the network.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { SUPPORTED_VERSIONS } from './result.js';
import type { NetworkConfList, PluginConf } from './types.js';

/** libcni's network name rule; the name is also part of cache file and chain names. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function parseConfList(raw: string, file: string): NetworkConfList {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(raw) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`not valid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('a network config must be a JSON object');
  const isList = file.endsWith('.conflist') || Array.isArray(doc.plugins);
  const plugins = (isList ? doc.plugins : [doc]) as unknown;
  if (!Array.isArray(plugins) || plugins.length === 0) throw new Error('a network config list needs a non-empty "plugins" array');
  plugins.forEach((p: unknown, i) => {
    if (!p || typeof p !== 'object' || typeof (p as PluginConf).type !== 'string' || !(p as PluginConf).type) {
      throw new Error(`plugin ${i} has no "type"`);
    }
  });
  if (typeof doc.name !== 'string' || !NAME_RE.test(doc.name)) throw new Error(`network name ${JSON.stringify(doc.name)} is missing or not of the form ${NAME_RE.source}`);
  if (typeof doc.cniVersion !== 'string') throw new Error('no "cniVersion"');
  if (!SUPPORTED_VERSIONS.includes(doc.cniVersion)) throw new Error(`cniVersion ${doc.cniVersion} is not one berth speaks (${SUPPORTED_VERSIONS.join(', ')})`);
  return {
    cniVersion: doc.cniVersion,
    name: doc.name,
    plugins: plugins as PluginConf[],
    ...(doc.disableCheck === true ? { disableCheck: true } : {}),
    ...(doc.disableGC === true ? { disableGC: true } : {}),
    file,
    raw,
  };
}

export interface Discovered {
  conf?: NetworkConfList;
  error?: string;
}

/**
 * The conf dir, re-read whenever it changes: each look lists the directory and stats the
 * first file, and parses again only when that file's name, inode, size or mtime changed.
 * (A polling look, not inotify: the directory may not even exist yet, and the kubelet's
 * Status poll every few seconds is what notices a node getting its network.)
 */
export class ConfSource {
  private last?: { key: string; found: Discovered };

  constructor(readonly dir: string) {}

  current(): Discovered {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => /\.(conflist|conf|json)$/.test(f)).sort();
    } catch {
      return { error: `no CNI config directory ${this.dir}` };
    }
    if (files.length === 0) return { error: `no network config found in ${this.dir}` };
    const file = path.join(this.dir, files[0]!);
    let key: string;
    try {
      const st = statSync(file);
      key = `${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      return { error: `${file}: ${(e as Error).message}` };
    }
    if (this.last?.key === key) return this.last.found;
    let found: Discovered;
    try {
      found = { conf: parseConfList(readFileSync(file, 'utf8'), file) };
    } catch (e) {
      found = { error: `${file}: ${(e as Error).message}` };
    }
    this.last = { key, found };
    return found;
  }
}
