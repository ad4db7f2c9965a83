// The OCI runtime behind one interface, chosen per CRI runtime handler (runc, crun, or
// any runc-compatible CLI). Each handler is probed at start-up by really running a tiny
// container, so a handler that cannot run on this host (Debian's crun 1.8.1 under hybrid
// cgroups, say) is reported with its reason instead of failing pods mysteriously.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deadline, internal, precondition } from '../errors.js';
import { processTree } from '../util/procfs.js';
import { monitorPath } from '../native/index.js';
import { MAX_OUTPUT, run, type RunResult } from './exec-file.js';
import { probeUserns } from './userns-probe.js';

export interface HandlerStatus {
  ready: boolean;
  reason?: string;
  /** OCI spec version the runtime implements; berth writes this into config.json. */
  specVersion: string;
  version?: string;
  /** A container ran in a pod-like user namespace with an idmapped rootfs (userns-probe.ts); if not, why. */
  userns?: boolean;
  usernsReason?: string;
}

export class OciRuntime {
  status: HandlerStatus = { ready: false, reason: 'not probed yet', specVersion: '1.0.2' };

  constructor(
    readonly handler: string,
    readonly binary: string,
    readonly root: string,
  ) {}

  private async cli(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    try {
      return await run(this.binary, ['--root', this.root, ...args], { timeoutMs });
    } catch (e) {
      throw precondition(`runtime ${this.handler} (${this.binary}): ${(e as Error).message}`);
    }
  }

  private fail(what: string, id: string, r: RunResult): never {
    throw internal(`runtime ${this.handler}: ${what} ${id} failed (exit ${r.code}): ${r.stderr.toString().trim() || r.stdout.toString().trim()}`);
  }

  ensureReady(): void {
    if (!this.status.ready) throw precondition(`runtime handler ${this.handler} cannot run containers on this host: ${this.status.reason}`);
  }

  async start(id: string): Promise<void> {
    const r = await this.cli(['start', id]);
    if (r.code !== 0) this.fail('start', id, r);
  }

  /** Sends a signal; "not running" / "does not exist" are not errors for callers that then wait for the exit. */
  async kill(id: string, signal: string): Promise<void> {
    await this.cli(['kill', id, signal]);
  }

  async delete(id: string): Promise<void> {
    const r = await this.cli(['delete', '--force', id]);
    const msg = r.stderr.toString();
    if (r.code !== 0 && !/does not exist|not exist|No such file/i.test(msg)) this.fail('delete', id, r);
  }

  /**
   * `update --resources FILE`: applies OCI linux resources to a created or running
   * container's cgroup (the file, not stdin: crun reads only a path).
   */
  async update(id: string, resources: object, file: string): Promise<void> {
    await fs.writeFile(file, JSON.stringify(resources));
    try {
      const r = await this.cli(['update', '--resources', file, id]);
      if (r.code !== 0) this.fail('update', id, r);
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  /**
   * Runs a process in the container through `berth-monitor exec`, which owns its output
   * pipes and answers once the process itself exits (a background child holding the
   * pipes does not hold the answer) with at most MAX_OUTPUT bytes per stream. On timeout
   * the exec'd process and everything it started (found via the pid file and /proc) are
   * killed; the monitor reaps them before it exits.
   */
  async exec(id: string, cmd: string[], timeoutMs: number, pidFile: string): Promise<RunResult> {
    const args = ['exec', '--runtime', this.binary, '--root', this.root, '--id', id, '--pid-file', pidFile, '--max-output', String(MAX_OUTPUT), '--', ...cmd];
    const killExec = async () => {
      const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (!(pid > 0)) return;
      // The whole tree first, then the kills: a parent killed first would orphan its
      // children before they were found.
      for (const p of processTree(pid)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    try {
      // The monitor's own truncation notes come on top of the cap.
      return await run(monitorPath(), args, { timeoutMs: timeoutMs || undefined, onTimeout: killExec, maxOutput: MAX_OUTPUT + 1024 });
    } finally {
      await fs.rm(pidFile, { force: true });
    }
  }

  /**
   * `checkpoint`: CRIU dumps the container's processes into `imageDir` and the container
   * keeps running (as the kubelet's forensic checkpoints want it, and CRI-O does).
   */
  async checkpoint(id: string, o: { criu: string; imageDir: string; workDir: string; timeoutMs: number }): Promise<void> {
    const r = await this.cli(['checkpoint', '--criu', o.criu, '--image-path', o.imageDir, '--work-path', o.workDir, '--leave-running', '--tcp-established', '--file-locks', id], o.timeoutMs);
    if (r.timedOut) throw deadline(`runtime ${this.handler}: checkpoint ${id} did not finish within ${o.timeoutMs / 1000} s`);
    if (r.code !== 0) this.fail('checkpoint', id, r);
  }

  /** Finds the spec version and proves the handler can run a container. */
  async probe(workDir: string, probeBinary: string, cgroupRoot: string, userns?: { runtimeDir: string; layersDir: string }): Promise<HandlerStatus> {
    const v = await run(this.binary, ['--version'], { timeoutMs: 10_000 }).catch((e: Error) => e);
    if (v instanceof Error) {
      this.status = { ready: false, reason: `cannot execute ${this.binary}: ${v.message}`, specVersion: '1.0.2' };
      return this.status;
    }
    const text = v.stdout.toString();
    const spec = /spec:\s*([0-9]+\.[0-9]+\.[0-9]+)/.exec(text)?.[1] ?? '1.0.2';
    const version = text.split('\n')[0]?.trim();
    const id = `berth-probe-${randomBytes(6).toString('hex')}`;
    const bundle = path.join(workDir, id);
    try {
      for (const d of ['dev', 'proc']) await fs.mkdir(path.join(bundle, 'rootfs', d), { recursive: true });
      await fs.copyFile(probeBinary, path.join(bundle, 'rootfs', 'busybox'));
      await fs.chmod(path.join(bundle, 'rootfs', 'busybox'), 0o755);
      await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(probeSpec(spec, `${cgroupRoot}/${id}`)));
      const logFile = path.join(bundle, 'runtime.log');
      const r = await run(this.binary, ['--root', this.root, '--log', logFile, '--log-format', 'json', 'run', '--bundle', bundle, id], {
        timeoutMs: 20_000,
      });
      if (r.code === 0) {
        const u = userns ? await probeUserns(this, { ...userns, bundle, spec: probeSpec(spec, `${cgroupRoot}/${id}-userns`) }) : { ok: false, reason: 'not probed' };
        this.status = { ready: true, specVersion: spec, version, userns: u.ok, usernsReason: u.reason };
      } else {
        const log = await fs.readFile(logFile, 'utf8').catch(() => '');
        const msgs = log
          .split('\n')
          .map((l) => {
            try {
              return JSON.parse(l) as { level?: string; msg?: string };
            } catch {
              return undefined;
            }
          })
          .filter((m) => m?.level === 'error' && m.msg)
          .map((m) => m!.msg);
        const reason = msgs.join('; ') || r.stderr.toString().trim() || `exit ${r.code}`;
        this.status = { ready: false, reason: `probe container failed: ${reason}`, specVersion: spec, version };
      }
    } catch (e) {
      this.status = { ready: false, reason: `probe failed: ${(e as Error).message}`, specVersion: spec, version };
    } finally {
      await run(this.binary, ['--root', this.root, 'delete', '--force', id], { timeoutMs: 10_000 }).catch(() => undefined);
      await fs.rm(bundle, { recursive: true, force: true });
    }
    return this.status;
  }
}

export function probeSpec(ociVersion: string, cgroupsPath: string): Record<string, unknown> {
  return {
    ociVersion,
    process: { args: ['/busybox', 'true'], cwd: '/', env: ['PATH=/'], user: { uid: 0, gid: 0 }, noNewPrivileges: true },
    root: { path: 'rootfs', readonly: true },
    hostname: 'probe',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: {
      cgroupsPath,
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}
