// The table of runtime handlers (CRI RuntimeClass handler name → OCI runtime).
import path from 'node:path';
import type { Config } from '../config/config.js';
import { invalid } from '../errors.js';
import type { Logger } from '../log.js';
import { OciRuntime } from './runtime.js';

export class RuntimeRegistry {
  readonly handlers = new Map<string, OciRuntime>();

  constructor(private readonly cfg: Config) {
    for (const [name, h] of Object.entries(cfg.runtimes)) {
      this.handlers.set(name, new OciRuntime(name, h.path, h.root ?? path.join(cfg.runtimeDir, 'runtimes', name)));
    }
  }

  /** The handler for a CRI runtime_handler ("" means the default). */
  get(name: string): OciRuntime {
    const rt = this.handlers.get(name || this.cfg.defaultRuntime);
    if (!rt) throw invalid(`runtime handler ${JSON.stringify(name)} is not configured (have: ${[...this.handlers.keys()].join(', ')})`);
    return rt;
  }

  get default(): OciRuntime {
    return this.get('');
  }

  /** Probes every handler in parallel and says once, in the log, which cannot run and why. */
  async probeAll(log: Logger): Promise<void> {
    const work = path.join(this.cfg.runtimeDir, 'probe');
    await Promise.all(
      [...this.handlers.values()].map(async (rt) => {
        const s = await rt.probe(work, this.cfg.probeBinary, this.cfg.cgroupRoot);
        if (s.ready) log.info({ handler: rt.handler, binary: rt.binary, spec: s.specVersion, version: s.version }, 'runtime handler ready');
        else log.warn({ handler: rt.handler, binary: rt.binary, reason: s.reason }, 'runtime handler cannot run containers on this host');
      }),
    );
  }
}
