// A store for one kind of object (pods or containers): records on disk, an in-memory
// index, a name registrar (one object per CRI name) and ID-prefix lookup.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { alreadyExists, invalid, notFound } from '../errors.js';
import { readAll, resolvePrefix, writeRecord } from './records.js';

export interface Stored {
  id: string;
  /** The CRI name key (name/namespace/uid/attempt) reserved by this object. */
  nameKey: string;
}

export class ObjectStore<T extends Stored> {
  private readonly items = new Map<string, T>();
  private readonly names = new Map<string, string>();

  constructor(
    private readonly kind: string,
    readonly dir: string,
  ) {}

  async load(): Promise<void> {
    for (const r of await readAll<T>(this.dir, 'record.json')) {
      this.items.set(r.id, r);
      this.names.set(r.nameKey, r.id);
    }
  }

  /** Reserves a name for `id`; a second object with the same CRI name is refused. */
  reserve(nameKey: string, id: string): void {
    const holder = this.names.get(nameKey);
    if (holder && holder !== id) throw alreadyExists(`${this.kind} name ${nameKey} is already reserved by ${this.kind} ${holder}`);
    this.names.set(nameKey, id);
  }

  release(nameKey: string, id: string): void {
    if (this.names.get(nameKey) === id) this.names.delete(nameKey);
  }

  recordDir(id: string): string {
    return path.join(this.dir, id);
  }

  async save(item: T): Promise<void> {
    this.items.set(item.id, item);
    await writeRecord(path.join(this.dir, item.id, 'record.json'), item);
  }

  async delete(item: T): Promise<void> {
    this.items.delete(item.id);
    this.release(item.nameKey, item.id);
    await fs.rm(path.join(this.dir, item.id), { recursive: true, force: true });
  }

  list(): T[] {
    return [...this.items.values()];
  }

  /** Finds by full ID or unique prefix; undefined if absent. */
  find(idOrPrefix: string): T | undefined {
    if (!idOrPrefix) throw invalid(`${this.kind} ID is empty`);
    const id = resolvePrefix(this.items.keys(), idOrPrefix);
    if (id === 'ambiguous') throw invalid(`${this.kind} ID prefix ${idOrPrefix} is ambiguous`);
    return id ? this.items.get(id) : undefined;
  }

  get(idOrPrefix: string): T {
    const item = this.find(idOrPrefix);
    if (!item) throw notFound(`${this.kind} ${idOrPrefix} not found`);
    return item;
  }
}
