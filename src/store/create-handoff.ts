// Creates that outlive their caller, kept for the caller's retry (CRI-O's
// internal/resourcestore). The kubelet gives up on a slow RunPodSandbox/CreateContainer
// after its request timeout and asks again with the same name, attempt and config. Without
// this, the retry hits the name the first create reserved (AlreadyExists) and the first
// pod or container is never used by anyone (a leak until the kubelet's GC finds it).
//
// Per name key at most one entry:
//
//   create ──► in flight ──(its caller is still there)──► answered, entry dropped
//                 │  └─(a retry with the same config waits on it)──► both get the same ID
//                 └─(its caller left)──► unclaimed ──(same-config retry within grace)──► handed over
//                                              └─(grace passes)──► discarded (stopped and removed)
//
// A retry with a different config is not the same request: it takes the ordinary path
// and meets the reserved name (AlreadyExists), as it would without this cache.
import type { Logger } from '../log.js';

/** What a handler knows about its gRPC caller. */
export interface Caller {
  /** True once the caller cancelled the call or its deadline passed: an answer reaches nobody. */
  gone(): boolean;
}

/** A caller that never leaves (internal callers, tests). */
export const present: Caller = { gone: () => false };

/**
 * Kept on the object's record while it waits, so that a restarted berthd still hands it
 * over, or removes it when the grace period ends (adopt), instead of keeping it forever.
 */
export interface Unclaimed {
  /** ms since the epoch. */
  until: number;
  fingerprint: string;
}

/** How the owner of the objects records a kept one on disk, and forgets it again. */
export interface HandoffRecords {
  kept(id: string, u: Unclaimed): Promise<void>;
  claimed(id: string): Promise<void>;
}

interface Entry {
  fingerprint: string;
  result: Promise<string>;
  /** Set once the create finished. */
  id?: string;
  /** A retry took (or is waiting for) the result: it must never be discarded. */
  claimed: boolean;
  timer?: NodeJS.Timeout;
}

export class CreateHandoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly kind: string,
    private readonly graceMs: number,
    private readonly log: Logger,
    private readonly records: HandoffRecords,
  ) {}

  /**
   * Runs `make` for the name `key`, or hands over (or waits for) the result of an earlier
   * create of the same key and `fingerprint` (the request's config). When `make` finishes
   * after `caller` left, its ID is kept for `graceMs`, then `discard`ed.
   */
  async create(key: string, fingerprint: string, caller: Caller, make: () => Promise<string>, discard: (id: string) => Promise<void>): Promise<string> {
    const earlier = this.entries.get(key);
    if (earlier?.fingerprint === fingerprint) return this.claim(key, earlier);
    if (earlier) return make(); // a different request under a held name: the registrar answers
    const entry: Entry = { fingerprint, result: make(), claimed: false };
    this.entries.set(key, entry);
    let id: string;
    try {
      id = await entry.result;
    } catch (e) {
      this.entries.delete(key);
      throw e;
    }
    if (entry.claimed || !caller.gone()) {
      this.entries.delete(key);
      return id;
    }
    const until = Date.now() + this.graceMs;
    await this.records.kept(id, { until, fingerprint }).catch((e: Error) => this.log.warn({ [this.kind]: id.slice(0, 12), err: e.message }, 'could not record an unclaimed create'));
    // Said once the record is written: from this line on, a restart adopts it.
    this.log.warn({ [this.kind]: id.slice(0, 12), graceSeconds: this.graceMs / 1000 }, `${this.kind} created after its caller left; kept for the retry`);
    // Only now is it "finished" for claim(): a retry that came while the record was written
    // waited on `result` instead, and must not have its claim overwritten by that write.
    entry.id = id;
    if (entry.claimed) {
      this.entries.delete(key);
      await this.forget(id);
    } else this.arm(key, entry, until, discard);
    return id; // nobody receives it
  }

  private async forget(id: string): Promise<void> {
    await this.records.claimed(id).catch((e: Error) => this.log.error({ [this.kind]: id.slice(0, 12), err: e.message }, 'could not record that an unclaimed create was claimed'));
  }

  /** Start-up: an object a previous berthd kept for a retry waits out the rest of its grace. */
  adopt(key: string, id: string, u: Unclaimed, discard: (id: string) => Promise<void>): void {
    const entry: Entry = { fingerprint: u.fingerprint, result: Promise.resolve(id), id, claimed: false };
    this.entries.set(key, entry);
    this.arm(key, entry, u.until, discard);
  }

  private arm(key: string, entry: Entry, until: number, discard: (id: string) => Promise<void>): void {
    const id = entry.id!;
    entry.timer = setTimeout(() => {
      if (this.entries.get(key) !== entry) return;
      this.entries.delete(key);
      this.log.warn({ [this.kind]: id.slice(0, 12) }, `no retry claimed the ${this.kind} created after its caller left; removing it`);
      discard(id).catch((e: Error) => this.log.error({ [this.kind]: id.slice(0, 12), err: e.message }, `removing an unclaimed ${this.kind} failed`));
    }, Math.max(0, until - Date.now()));
    entry.timer.unref();
  }

  private async claim(key: string, entry: Entry): Promise<string> {
    entry.claimed = true;
    if (entry.id !== undefined) {
      // Finished and unclaimed: hand it over now. (In flight: the create itself drops the entry.)
      clearTimeout(entry.timer);
      this.entries.delete(key);
      this.log.info({ [this.kind]: entry.id.slice(0, 12) }, `handed a ${this.kind} created after its caller left to the retry`);
      await this.forget(entry.id);
      return entry.id;
    }
    this.log.info({ key }, `a retry waits for the ${this.kind} create still in flight`);
    return entry.result;
  }

  /** Unclaimed results waiting for a retry (for tests and shutdown logs). */
  get waiting(): number {
    return [...this.entries.values()].filter((e) => e.id !== undefined).length;
  }

  /** Stops the timers (berthd shutting down); the objects stay, as every pod does across a restart. */
  close(): void {
    for (const e of this.entries.values()) clearTimeout(e.timer);
  }
}
