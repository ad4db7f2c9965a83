// The subset of containers-registries.conf(5) v2 that berth honours: per-prefix
// `location` rewrite, `insecure` (TLS without verification, else plain HTTP), `blocked`,
// `[[registry.mirror]]` lists tried in order before the primary location,
// `unqualified-search-registries`, `short-name-mode` and `[aliases]`. Loopback
// registries are insecure unless their entry says `insecure = false`.
// Drop-ins in `registries.conf.d/*.conf` beside the file are merged over it in lexical
// order, as containers-registries.conf.d(5) says: a [[registry]] with a prefix already
// seen replaces that entry in place, a top-level key that is set replaces the value,
// and aliases merge key by key (an empty value removes an earlier alias).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { invalid } from '../errors.js';
import { isShortName, parseReference, repoName } from '../image/reference.js';

export interface Endpoint {
  /** host[:port] (and optional path prefix) to talk to. */
  location: string;
  insecure: boolean;
}

/** `insecure` as written: undefined when the key is absent (loopback's default applies). */
interface Written {
  location: string;
  insecure?: boolean;
}

interface RegistryEntry extends Written {
  prefix: string;
  blocked: boolean;
  mirrors: Written[];
}

/** An alias's target (registry/repository, normalised) and the file that set it. */
export interface Alias {
  target: string;
  file: string;
}

/** One file's settings; undefined where the file does not set the key. */
interface Parsed {
  entries: RegistryEntry[];
  search?: string[];
  /** Empty-string values are kept (undefined target): they remove an earlier alias. */
  aliases: Map<string, Alias | undefined>;
}

export class RegistriesConf {
  private constructor(
    private readonly entries: RegistryEntry[],
    /**
     * `unqualified-search-registries`: where a short name is looked for, in order (empty:
     * docker.io, as before). `short-name-mode` is read but the CRI has no one to ask,
     * so every mode behaves as CRI-O's permissive mode does for the CRI: each candidate
     * is tried and the first that has the image wins.
     */
    readonly searchRegistries: string[] = [],
    /** `[aliases]`: a short name (no tag or digest) → where it always comes from. */
    private readonly aliases: ReadonlyMap<string, Alias> = new Map(),
  ) {}

  static empty(): RegistriesConf {
    return new RegistriesConf([]);
  }

  /** `file` (absent: nothing) and then its drop-ins, `<dir>/registries.conf.d/*.conf`. */
  static load(file: string): RegistriesConf {
    const parts: Parsed[] = [];
    const main = readIfThere(file);
    if (main !== undefined) parts.push(parseFile(main, file));
    const dropDir = path.join(path.dirname(file), 'registries.conf.d');
    let names: string[] = [];
    try {
      names = readdirSync(dropDir).filter((n) => n.endsWith('.conf')).sort();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw invalid(`${dropDir}: ${code ?? (e as Error).message}`);
    }
    for (const n of names) {
      const f = path.join(dropDir, n);
      const text = readIfThere(f);
      if (text !== undefined) parts.push(parseFile(text, f));
    }
    return RegistriesConf.merge(parts);
  }

  static parse(text: string, file = 'registries.conf'): RegistriesConf {
    return RegistriesConf.merge([parseFile(text, file)]);
  }

  /** Later files over earlier ones, by containers-registries.conf.d(5)'s rules. */
  private static merge(parts: Parsed[]): RegistriesConf {
    const entries: RegistryEntry[] = [];
    let search: string[] = [];
    const aliases = new Map<string, Alias>();
    for (const p of parts) {
      for (const e of p.entries) {
        const at = entries.findIndex((x) => x.prefix === e.prefix);
        if (at >= 0) entries[at] = e;
        else entries.push(e);
      }
      if (p.search) search = p.search;
      for (const [k, v] of p.aliases) {
        if (v) aliases.set(k, v);
        else aliases.delete(k);
      }
    }
    return new RegistriesConf(entries, search, aliases);
  }

  /** The alias for a short name's repository (`shortNameRepo`), if one is configured. */
  alias(name: string): Alias | undefined {
    return this.aliases.get(name);
  }

  /**
   * Endpoints to try, in order, for `registry/repository`. Each carries the repository
   * path as it is named on that endpoint (a location may rewrite the prefix).
   */
  endpoints(name: string): { endpoints: Array<Endpoint & { repository: string }>; blocked: boolean } {
    const match = this.entries
      .filter((e) => name === e.prefix || name.startsWith(`${e.prefix}/`))
      .sort((a, b) => b.prefix.length - a.prefix.length)[0];
    const split = (location: string, rest: string) => {
      const slash = location.indexOf('/');
      const host = slash < 0 ? location : location.slice(0, slash);
      const pathPrefix = slash < 0 ? '' : `${location.slice(slash + 1)}/`;
      return { host, repository: `${pathPrefix}${rest}`.replace(/^\/+/, '') };
    };
    if (!match) {
      const slash = name.indexOf('/');
      const host = name.slice(0, slash);
      return { endpoints: [{ location: host, insecure: isLoopback(host), repository: name.slice(slash + 1) }], blocked: false };
    }
    const rest = name.slice(match.prefix.length).replace(/^\//, '');
    const all = [...match.mirrors, { location: match.location, insecure: match.insecure }].map((e) => {
      const { host, repository } = split(e.location, rest);
      return { location: host, insecure: e.insecure ?? isLoopback(host), repository };
    });
    return { endpoints: all, blocked: match.blocked };
  }
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(`${file}: ${(e as Error).message}`);
  }
}

function parseFile(text: string, file: string): Parsed {
  let doc: { registry?: Array<Record<string, unknown>>; 'unqualified-search-registries'?: unknown; 'short-name-mode'?: unknown; aliases?: unknown };
  try {
    doc = parseToml(text) as typeof doc;
  } catch (e) {
    throw invalid(`${file}: ${(e as Error).message}`);
  }
  const entries = (doc.registry ?? []).map((r): RegistryEntry => {
    const location = String(r.location ?? r.prefix ?? '');
    const prefix = String(r.prefix ?? location);
    if (!prefix) throw invalid(`${file}: a [[registry]] needs prefix or location`);
    const mirrors = ((r.mirror as Array<Record<string, unknown>> | undefined) ?? []).map((m) => ({
      location: String(m.location ?? ''),
      insecure: flag(m.insecure),
    }));
    return { prefix, location: location || prefix, insecure: flag(r.insecure), blocked: r.blocked === true, mirrors };
  });
  const search = doc['unqualified-search-registries'];
  if (search !== undefined && (!Array.isArray(search) || search.some((r) => typeof r !== 'string' || !r || /[\s@]/.test(r)))) {
    throw invalid(`${file}: unqualified-search-registries must be a list of registry hosts`);
  }
  const mode = doc['short-name-mode'];
  if (mode !== undefined && !['enforcing', 'permissive', 'disabled'].includes(String(mode))) {
    throw invalid(`${file}: short-name-mode must be enforcing, permissive or disabled, not ${JSON.stringify(mode)}`);
  }
  return { entries, search: search as string[] | undefined, aliases: parseAliases(doc.aliases, file) };
}

/**
 * `[aliases]`, checked as containers/image checks them: each key a short name without
 * tag or digest, each value a fully qualified repository without tag or digest (or ""
 * to drop an alias an earlier file set). An error names the file and the key.
 */
function parseAliases(table: unknown, file: string): Map<string, Alias | undefined> {
  const out = new Map<string, Alias | undefined>();
  if (table === undefined) return out;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) throw invalid(`${file}: [aliases] must be a table of "short-name" = "registry/repository"`);
  for (const [key, value] of Object.entries(table)) {
    const where = `${file}: [aliases] ${JSON.stringify(key)}`;
    if (!isShortName(key) || key.includes('@') || key.slice(key.lastIndexOf('/') + 1).includes(':')) {
      throw invalid(`${where}: an alias name is a short name without registry, tag or digest`);
    }
    checked(() => parseReference(key), where);
    if (typeof value !== 'string') throw invalid(`${where}: the value must be a string`);
    if (value === '') {
      out.set(key, undefined);
      continue;
    }
    if (value.includes('@')) throw invalid(`${where}: ${JSON.stringify(value)} must not carry a digest`);
    if (isShortName(value)) throw invalid(`${where}: ${JSON.stringify(value)} must be fully qualified (registry/repository)`);
    if (value.slice(value.lastIndexOf('/') + 1).includes(':')) throw invalid(`${where}: ${JSON.stringify(value)} must not carry a tag`);
    // Normalised as a reference is (docker.io/alpine is docker.io/library/alpine).
    out.set(key, { target: repoName(checked(() => parseReference(value), where)), file });
  }
  return out;
}

function checked<T>(f: () => T, where: string): T {
  try {
    return f();
  } catch (e) {
    throw invalid(`${where}: ${(e as Error).message}`);
  }
}

function flag(v: unknown): boolean | undefined {
  return v === undefined ? undefined : v === true;
}

/** Loopback registries speak plain HTTP, as Docker treats 127.0.0.0/8 as insecure by default. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
