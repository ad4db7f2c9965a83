// The subset of containers-registries.conf(5) v2 that berth honours so far: per-prefix
// `location` rewrite, `insecure` (TLS without verification, else plain HTTP), `blocked`,
// and `[[registry.mirror]]` lists tried in order before the primary location. Loopback
// registries are insecure unless their entry says `insecure = false`.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { invalid } from '../errors.js';

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

export class RegistriesConf {
  private constructor(
    private readonly entries: RegistryEntry[],
    /**
     * `unqualified-search-registries`: where a short name is looked for, in order (empty:
     * docker.io, as before). `short-name-mode` is read but the CRI has no one to ask,
     * so every mode behaves as CRI-O's permissive mode does for the CRI: each candidate
     * is tried and the first that has the image wins. Short-name aliases are not read.
     */
    readonly searchRegistries: string[] = [],
  ) {}

  static empty(): RegistriesConf {
    return new RegistriesConf([]);
  }

  static load(file: string): RegistriesConf {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return RegistriesConf.empty();
      throw e;
    }
    return RegistriesConf.parse(text, file);
  }

  static parse(text: string, file = 'registries.conf'): RegistriesConf {
    let doc: { registry?: Array<Record<string, unknown>>; 'unqualified-search-registries'?: unknown; 'short-name-mode'?: unknown };
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
    const search = doc['unqualified-search-registries'] ?? [];
    if (!Array.isArray(search) || search.some((r) => typeof r !== 'string' || !r || /[\s@]/.test(r))) {
      throw invalid(`${file}: unqualified-search-registries must be a list of registry hosts`);
    }
    const mode = doc['short-name-mode'];
    if (mode !== undefined && !['enforcing', 'permissive', 'disabled'].includes(String(mode))) {
      throw invalid(`${file}: short-name-mode must be enforcing, permissive or disabled, not ${JSON.stringify(mode)}`);
    }
    return new RegistriesConf(entries, search as string[]);
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

function flag(v: unknown): boolean | undefined {
  return v === undefined ? undefined : v === true;
}

/** Loopback registries speak plain HTTP, as Docker treats 127.0.0.0/8 as insecure by default. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
