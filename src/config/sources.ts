// Reading configuration sources into a Config: TOML files (snake_case keys) and strings
// from the environment or flags. Each value is checked against the type of its embedded
// default, so an error names the source, the key and the reason.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { invalid } from '../errors.js';
import type { Config } from './config.js';

export const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** BERTH_<SNAKE_KEY>; registries_conf keeps the containers tools' own name. */
export function envName(key: keyof Config): string {
  return key === 'registriesConf' ? 'CONTAINERS_REGISTRIES_CONF' : `BERTH_${snake(key).toUpperCase()}`;
}

type Kind = 'string' | 'number' | 'list' | 'table';
function kindOf(v: unknown): Kind {
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object' && v !== null) return 'table';
  return typeof v === 'number' ? 'number' : 'string';
}

/** Merges one TOML file over `cfg`; [runtimes.<name>] tables merge per handler. */
export function mergeFile(cfg: Config, file: string): void {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`config ${file}: ${(e as Error).message}`);
  }
  const target = cfg as unknown as Record<string, unknown>;
  for (const [tomlKey, v] of Object.entries(doc)) {
    const key = camel(tomlKey);
    const where = `config ${file}: key ${tomlKey}`;
    if (!(key in target)) throw invalid(`${where}: unknown key`);
    const want = kindOf(target[key]);
    if (want === 'list' && typeof v === 'string') target[key] = v.split(':').filter(Boolean);
    else if (kindOf(v) !== want) throw invalid(`${where}: expected a ${want}, got ${JSON.stringify(v)}`);
    else if (want === 'list' && (v as unknown[]).some((x) => typeof x !== 'string')) throw invalid(`${where}: expected a list of strings`);
    else if (want === 'number' && !(Number.isFinite(v) && (v as number) >= 0)) throw invalid(`${where}: expected a non-negative number, got ${String(v)}`);
    else if (key === 'runtimes') cfg.runtimes = { ...cfg.runtimes, ...runtimeTables(v as Record<string, unknown>, where) };
    else target[key] = v;
  }
}

function runtimeTables(v: Record<string, unknown>, where: string): Config['runtimes'] {
  const out: Config['runtimes'] = {};
  for (const [name, t] of Object.entries(v)) {
    const h = t as Record<string, unknown>;
    if (kindOf(t) !== 'table' || typeof h.path !== 'string' || !h.path) throw invalid(`${where}.${name}: needs path = "<runtime binary>"`);
    for (const k of Object.keys(h)) if (k !== 'path' && k !== 'root') throw invalid(`${where}.${name}: unknown key ${k}`);
    if (h.root !== undefined && typeof h.root !== 'string') throw invalid(`${where}.${name}.root: expected a string`);
    out[name] = { path: h.path, ...(typeof h.root === 'string' ? { root: h.root } : {}) };
  }
  return out;
}

/** A value from the environment or a flag; lists are ':'-separated. */
export function setFromString(cfg: Config, key: keyof Config, v: string, where: string): void {
  const target = cfg as unknown as Record<string, unknown>;
  const want = kindOf(target[key]);
  if (want === 'list') target[key] = v.split(':').filter(Boolean);
  else if (want === 'number') {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw invalid(`${where}: ${snake(key)} expects a non-negative number, got ${JSON.stringify(v)}`);
    target[key] = n;
  } else if (want === 'string') target[key] = v;
  else throw invalid(`${where}: ${snake(key)} is a table; set it in a config file`);
}
