// A store for one kind of object (pods or containers): records on disk, an in-memory
// index, a name registrar (one object per CRI name) and ID-prefix lookup.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { alreadyExists, invalid, notFound } from '../errors.js';
import { readAllWithout, resolvePrefix, syncRecord, writeRecord } from './records.js';

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

  /**
   * Loads every record. An object directory without a readable record is what a crash left
   * between making the directory and the first save (or, after a crash of the host, a
   * record whose write never reached the disk): nothing refers to it, so it is removed.
   * Returns the IDs removed.
   */
  async load(): Promise<string[]> {
    const { records, without } = await readAllWithout<T>(this.dir, 'record.json');
    for (const r of records) {
      this.items.set(r.id, r);
      this.names.set(r.nameKey, r.id);
    }
    for (const id of without) await fs.rm(path.join(this.dir, id), { recursive: true, force: true });
    return without;
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

  /**
   * Writes the record, not fsynced: a crash of berthd keeps whatever was written (the page
   * cache outlives the process). A record whose loss in a crash of the host would leak
   * something that outlives a reboot (a pod's intent record, written before CNI ADD, whose
   * IPAM allocation is kept on disk) is made durable with sync(). Everything else a record
   * describes (namespaces, mounts, processes, cgroups) is gone after a reboot anyway, and
   * the fsyncs were a few milliseconds of every pod start.
   */
  async save(item: T): Promise<void> {
    this.items.set(item.id, item);
    await writeRecord(path.join(this.dir, item.id, 'record.json'), item, false);
  }

  /** Makes the last save of `item` durable (a caller may overlap this with other work). */
  sync(item: T): Promise<void> {
    return syncRecord(path.join(this.dir, item.id, 'record.json'));
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
