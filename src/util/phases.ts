// Per-phase timings of a multi-step operation, logged with its result line so the
// slow step of a pod start is visible without a profiler.
export class Phases {
  private last = performance.now();
  readonly ms: Record<string, number> = {};

  mark(phase: string): void {
    const now = performance.now();
    this.ms[phase] = Math.round((now - this.last) * 10) / 10;
    this.last = now;
  }
}
