// Can CRIU checkpoint processes on this host? Asked of CRIU itself (`criu check`, which
// probes the kernel features it needs), because the answer depends on both: Debian 12's
// CRIU 3.17 fails on kernel 6.18, for example ("vdso: Unexpected rt vDSO area bounds").
// The answer is cached for a while: installing or upgrading CRIU needs no berthd restart.
import { run } from './exec-file.js';

export interface CriuStatus {
  ok: boolean;
  /** Why not, in CRIU's own words. */
  reason?: string;
  version?: string;
}

const CACHE_MS = 60_000;

export class Criu {
  private cached?: { at: number; status: CriuStatus };

  constructor(readonly binary: string) {}

  async status(): Promise<CriuStatus> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.status;
    const status = await this.check();
    this.cached = { at: Date.now(), status };
    return status;
  }

  private async check(): Promise<CriuStatus> {
    const v = await run(this.binary, ['--version'], { timeoutMs: 10_000 }).catch((e: Error) => e);
    if (v instanceof Error) return { ok: false, reason: `CRIU (${this.binary}) cannot be run: ${v.message} (Debian: apt-get install criu)` };
    const version = /Version:\s*(\S+)/.exec(v.stdout.toString())?.[1];
    const r = await run(this.binary, ['check'], { timeoutMs: 30_000 });
    if (r.code === 0 && !r.timedOut) return { ok: true, version };
    const text = `${r.stdout.toString()}\n${r.stderr.toString()}`;
    // CRIU prints "Error (file:line): what" lines, the first one is the cause.
    const errors = text.split('\n').map((l) => /^Error \([^)]*\):\s*(.*)$/.exec(l.trim())?.[1]).filter(Boolean);
    const why = r.timedOut ? 'timed out after 30 s' : errors.join('; ') || text.trim() || `exit ${r.code}`;
    return { ok: false, version, reason: `CRIU ${version ?? ''} cannot checkpoint on this host: criu check: ${why}`.replace('  ', ' ') };
  }
}
