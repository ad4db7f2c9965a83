// Undo steps for multi-step creates: on failure, everything already made is undone in
// reverse order, and an undo that fails is logged, never hides the original error.
import type { Logger } from '../log.js';

export class Rollback {
  private readonly steps: Array<{ what: string; fn: () => Promise<void> | void }> = [];

  constructor(
    private readonly log: Logger,
    private readonly context: Record<string, unknown>,
  ) {}

  push(what: string, fn: () => Promise<void> | void): void {
    this.steps.push({ what, fn });
  }

  async run(): Promise<void> {
    for (const s of this.steps.reverse()) {
      try {
        await s.fn();
      } catch (e) {
        this.log.error({ ...this.context, step: s.what, err: (e as Error).message }, 'rollback step failed');
      }
    }
    this.steps.length = 0;
  }
}
