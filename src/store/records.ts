// Crash-safe metadata records: one small JSON file per object, written temp + fsync +
// rename, so a record on disk is always either the old or the new version.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function writeRecord(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

export async function readRecord<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads `<dir>/<id>/<name>` for every id directory; skips unreadable ones. */
export async function readAll<T>(dir: string, name: string): Promise<T[]> {
  let ids: string[];
  try {
    ids = await fs.readdir(dir);
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const id of ids) {
    const r = await readRecord<T>(path.join(dir, id, name)).catch(() => undefined);
    if (r) out.push(r);
  }
  return out;
}

export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** Resolves a full ID or a unique prefix (crictl accepts prefixes) among `ids`. */
export function resolvePrefix(ids: Iterable<string>, want: string): string | 'ambiguous' | undefined {
  let found: string | undefined;
  for (const id of ids) {
    if (id === want) return id;
    if (want.length > 0 && id.startsWith(want)) {
      if (found) return 'ambiguous';
      found = id;
    }
  }
  return found;
}
