// The HandoffRecords of an ObjectStore: the `unclaimed` field of the object's record.
import type { HandoffRecords, Unclaimed } from './create-handoff.js';
import type { ObjectStore, Stored } from './object-store.js';

export function handoffRecords<T extends Stored & { unclaimed?: Unclaimed }>(store: ObjectStore<T>): HandoffRecords {
  return {
    async kept(id, u) {
      const r = store.find(id);
      if (!r) return; // removed meanwhile
      r.unclaimed = u;
      await store.save(r);
    },
    async claimed(id) {
      const r = store.find(id);
      if (!r?.unclaimed) return;
      delete r.unclaimed;
      await store.save(r);
    },
  };
}
