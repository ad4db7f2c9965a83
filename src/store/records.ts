// Crash-safe metadata records: one small JSON file per object, written temp + rename, so
// a record on disk is always either the old or the new version once berthd has crashed.
// `durable` adds an fsync before the rename (syncRecord does it after the fact), for records
// that must also outlive a crash of the host (see ObjectStore.save for which those are).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function writeRecord(file: string, value: unknown, durable = true): Promise<void> {
  // Serialised before the first await: the caller may change `value` while this runs.
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/** Makes a record written without `durable` durable now: the file, then its directory entry. */
export async function syncRecord(file: string): Promise<void> {
  for (const p of [file, path.dirname(file)]) {
    const fh = await fs.open(p, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
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
  return (await readAllWithout<T>(dir, name)).records;
}

/** readAll, also naming the ID directories that hold no readable record. */
export async function readAllWithout<T>(dir: string, name: string): Promise<{ records: T[]; without: string[] }> {
  let ids: string[];
  try {
    ids = await fs.readdir(dir);
  } catch {
    return { records: [], without: [] };
  }
  const records: T[] = [];
  const without: string[] = [];
  for (const id of ids) {
    const r = await readRecord<T>(path.join(dir, id, name)).catch(() => undefined);
    if (r) records.push(r);
    else if (isObjectId(id)) without.push(id);
  }
  return { records, without };
}

export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** Is `name` an ID as newId makes them (the directories named after objects)? */
export function isObjectId(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
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
