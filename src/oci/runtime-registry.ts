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

  /**
   * SIGHUP: handlers that are new or changed in `next` replace the old ones for new pods
   * (each probed first); a handler dropped from the config stays until a restart, since
   * existing containers still need it to stop. Returns what changed.
   */
  async reload(next: Config, log: Logger): Promise<string[]> {
    const changed: string[] = [];
    const fresh: OciRuntime[] = [];
    for (const [name, h] of Object.entries(next.runtimes)) {
      const root = h.root ?? path.join(this.cfg.runtimeDir, 'runtimes', name);
      const old = this.handlers.get(name);
      if (old && old.binary === h.path && old.root === root) continue;
      fresh.push(new OciRuntime(name, h.path, root));
      changed.push(`runtimes.${name}`);
    }
    await this.probe(fresh, log);
    for (const rt of fresh) this.handlers.set(rt.handler, rt);
    for (const name of this.handlers.keys()) {
      if (!next.runtimes[name]) log.warn({ handler: name }, 'runtime handler removed from the config: kept until restart (containers may use it)');
    }
    if (next.defaultRuntime !== this.cfg.defaultRuntime) {
      this.cfg.defaultRuntime = next.defaultRuntime;
      changed.push('default_runtime');
    }
    return changed;
  }

  /** Probes every handler in parallel and says once, in the log, which cannot run and why. */
  async probeAll(log: Logger): Promise<void> {
    await this.probe([...this.handlers.values()], log);
  }

  private async probe(runtimes: OciRuntime[], log: Logger): Promise<void> {
    const work = path.join(this.cfg.runtimeDir, 'probe');
    await Promise.all(
      runtimes.map(async (rt) => {
        const s = await rt.probe(work, this.cfg.probeBinary, this.cfg.cgroupRoot, { runtimeDir: this.cfg.runtimeDir, layersDir: path.join(this.cfg.root, 'layers') });
        if (s.ready) log.info({ handler: rt.handler, binary: rt.binary, spec: s.specVersion, version: s.version, userNamespaces: s.userns, ...(s.userns ? {} : { usernsReason: s.usernsReason }) }, 'runtime handler ready');
        else log.warn({ handler: rt.handler, binary: rt.binary, reason: s.reason }, 'runtime handler cannot run containers on this host');
      }),
    );
  }
}
