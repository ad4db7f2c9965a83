// Lifecycle events of containers and pod sandboxes, for GetContainerEvents (the kubelet's
// evented PLEG and `crictl events`). Services emit after the change is recorded; the RPC
// handler turns each into a ContainerEventResponse with the pod's current status.
import { EventEmitter } from 'node:events';
import { nowNs } from './time.js';

export type LifecycleKind = 'created' | 'started' | 'stopped' | 'deleted';

export interface LifecycleEvent {
  /** The container's ID, or the pod sandbox's for a sandbox event (as containerd sends them). */
  id: string;
  podId: string;
  kind: LifecycleKind;
  /** ns since the epoch, as a decimal string. */
  at: string;
}

export class LifecycleEvents {
  private readonly bus = new EventEmitter();

  constructor() {
    // Every kubelet or `crictl events` is one listener; none of them is a leak.
    this.bus.setMaxListeners(0);
  }

  emit(id: string, podId: string, kind: LifecycleKind): void {
    this.bus.emit('event', { id, podId, kind, at: nowNs() } satisfies LifecycleEvent);
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(fn: (e: LifecycleEvent) => void): () => void {
    this.bus.on('event', fn);
    return () => this.bus.off('event', fn);
  }

  /** Calls `fn` once when berthd shuts down (streams end then instead of holding the server). */
  onClose(fn: () => void): () => void {
    this.bus.once('close', fn);
    return () => this.bus.off('close', fn);
  }

  close(): void {
    this.bus.emit('close');
  }

  get listening(): boolean {
    return this.bus.listenerCount('event') > 0;
  }
}
