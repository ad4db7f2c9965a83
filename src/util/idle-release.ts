// Gives memory back once berthd has gone quiet. A pod start, a pull or a burst of them
// leaves glibc's heap grown and node's executable mapped far beyond what the polling
// that follows (ListContainers, stats) touches: the kernel maps file text in 64 KiB
// fault-around windows, and start-up alone maps ~50 MB of node's 120 MB binary. After
// `quietMs` with no state-changing RPC in flight, `release` unmaps the clean pages and
// trims the heap (native release.rs); what runs next faults back the little it needs,
// from the page cache.
export class IdleRelease {
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly release: () => void,
  ) {}

  /** A state-changing RPC (or start-up) began: nothing is released while it runs. */
  begin(): void {
    this.inFlight++;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** It ended: once none is left in flight, release after the quiet period. */
  end(): void {
    if (this.inFlight > 0) this.inFlight--;
    if (this.inFlight > 0 || this.quietMs <= 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.release();
    }, this.quietMs);
    // A pending release never keeps berthd alive.
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
