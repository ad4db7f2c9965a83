// Checkpoints (CRI CheckpointContainer; CheckpointPod and RestorePod are refused with the
// reason). A container checkpoint is one tar archive at the caller's location, laid out as
// CRI-O's (so its tools can read it):
//   checkpoint/        the CRIU image (`runc checkpoint --leave-running`)
//   config.dump        what berth knows of the container: CRI config, image, pod, IDs
//   spec.dump          the OCI config.json it runs with
//   rootfs-diff.tar    its writable layer (overlay upper dir; deletions as overlay whiteouts)
// Before anything is written, CRIU itself must say it can work on this host (criu.ts):
// otherwise FAILED_PRECONDITION with CRIU's reason.
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { BerthError, internal, invalid, precondition } from '../errors.js';
import type { Logger } from '../log.js';
import type { Criu } from '../oci/criu.js';
import { run } from '../oci/exec-file.js';
import type { RuntimeRegistry } from '../oci/runtime-registry.js';
import type { ObjectStore } from '../store/object-store.js';
import type { PodRecord } from '../pod/pod.js';
import type { ContainerRecord } from './container.js';
import type { ContainerService } from './container-service.js';

/** What a timeout of 0 ("the CRI default") means: CRIU dumps of big processes take a while. */
const DEFAULT_TIMEOUT_S = 300;

export interface CheckpointDeps {
  containers: ContainerService;
  pods: ObjectStore<PodRecord>;
  runtimes: RuntimeRegistry;
  criu: Criu;
  /** Scratch space for the CRIU image before it is archived (<runtimeDir>/checkpoints). */
  workRoot: string;
  log: Logger;
}

/** An absolute path without `..` parts (the request names where root writes). */
function absolute(field: string, p: string): string {
  if (!p) throw invalid(`${field} is empty`);
  if (!path.isAbsolute(p) || p.split('/').includes('..')) throw invalid(`${field} ${JSON.stringify(p)} must be an absolute path without ".."`);
  return path.normalize(p);
}

/** Options are runtime-defined; berth defines none, and the CRI says unknown keys are refused. */
function noOptions(field: string, options: Record<string, string>): void {
  const keys = Object.keys(options ?? {});
  if (keys.length) throw invalid(`${field}: berth takes no checkpoint/restore options (got ${keys.join(', ')})`);
}

export class CheckpointService {
  constructor(private readonly d: CheckpointDeps) {}

  private async criuReady(): Promise<void> {
    const s = await this.d.criu.status();
    if (!s.ok) throw precondition(s.reason ?? 'CRIU cannot work on this host');
  }

  /** CheckpointContainer: the archive at `location`, written whole or not at all. */
  async container(id: string, location: string, timeoutSec: number): Promise<void> {
    const dest = absolute('location', location);
    if (timeoutSec < 0) throw invalid(`timeout ${timeoutSec} is negative`);
    if (!existsSync(path.dirname(dest)) || !statSync(path.dirname(dest)).isDirectory()) throw invalid(`location ${dest}: its directory does not exist`);
    if (existsSync(dest) && statSync(dest).isDirectory()) throw invalid(`location ${dest} is a directory; CheckpointContainer writes an archive file`);
    const c = await this.d.containers.running(id);
    await this.criuReady();
    await this.archive(c, dest, (timeoutSec || DEFAULT_TIMEOUT_S) * 1000);
  }

  private async archive(c: ContainerRecord, dest: string, timeoutMs: number): Promise<void> {
    const work = path.join(this.d.workRoot, `${c.id.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    const tmp = `${dest}.berth-${randomBytes(4).toString('hex')}.tmp`;
    const log = this.d.log.child({ container: c.id.slice(0, 12) });
    try {
      await fs.mkdir(path.join(work, 'checkpoint'), { recursive: true, mode: 0o700 });
      const started = Date.now();
      await this.d.runtimes.get(c.runtimeHandler).checkpoint(c.id, { criu: this.d.criu.binary, imageDir: path.join(work, 'checkpoint'), workDir: work, timeoutMs });
      const pod = this.d.pods.find(c.podId);
      await fs.writeFile(path.join(work, 'config.dump'), JSON.stringify({
        id: c.id, name: this.d.containers.config(c).metadata?.name, podId: c.podId, podName: (pod?.config as { metadata?: unknown })?.metadata,
        image: c.imageName, imageId: c.imageId, runtimeHandler: c.runtimeHandler, createdAt: c.createdAt, config: c.config, checkpointedAt: new Date().toISOString(),
      }));
      await fs.copyFile(path.join(c.bundle, 'config.json'), path.join(work, 'spec.dump'));
      await this.tar(['-C', path.join(c.layerDir, 'upper'), '-cf', path.join(work, 'rootfs-diff.tar'), '.'], timeoutMs);
      await this.tar(['-C', work, '-cf', tmp, 'checkpoint', 'config.dump', 'spec.dump', 'rootfs-diff.tar'], timeoutMs);
      await fs.rename(tmp, dest);
      log.info({ location: dest, ms: Date.now() - started }, 'container checkpointed');
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e instanceof BerthError ? e : internal(`checkpoint container ${c.id}: ${(e as Error).message}`, e);
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  private async tar(args: string[], timeoutMs: number): Promise<void> {
    // --xattrs keeps overlay's opaque-directory markers; numeric owners as they are on disk.
    const r = await run('tar', ['--xattrs', '--numeric-owner', ...args], { timeoutMs });
    if (r.code !== 0 || r.timedOut) throw internal(`tar ${args.join(' ')}: ${r.timedOut ? 'timed out' : r.stderr.toString().trim() || `exit ${r.code}`}`);
  }

  /**
   * CheckpointPod: the request is checked as the CRI asks (pod running, output_path an
   * existing empty directory, the containers running in it, no unknown options); then CRIU
   * must work here. Pod checkpoints themselves berth does not make yet.
   */
  async pod(podId: string, outputPath: string, containerIds: string[], options: Record<string, string>): Promise<never> {
    const pod = this.d.pods.get(podId);
    const out = absolute('output_path', outputPath);
    if (!existsSync(out) || !statSync(out).isDirectory()) throw invalid(`output_path ${out} must be an existing directory`);
    if ((await fs.readdir(out)).length) throw invalid(`output_path ${out} must be empty`);
    if (!containerIds.length) throw invalid('container_ids is empty');
    if (new Set(containerIds).size !== containerIds.length) throw invalid('container_ids has duplicates');
    noOptions('options', options);
    if (pod.state !== 'ready') throw precondition(`pod sandbox ${pod.id} is not ready`);
    for (const id of containerIds) {
      const c = await this.d.containers.running(id);
      if (c.podId !== pod.id) throw invalid(`container ${c.id} is not in pod sandbox ${pod.id}`);
    }
    await this.criuReady();
    throw new BerthError('Unimplemented', `pod sandbox ${pod.id}: berth does not make pod checkpoints yet (CheckpointContainer works on this host)`);
  }

  /** RestorePod: the request is checked, then CRIU must work here; restoring berth does not do yet. */
  async restorePod(checkpointPath: string, handler: string, options: Record<string, string>, containerNames: string[]): Promise<never> {
    const dir = absolute('checkpoint_path', checkpointPath);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw invalid(`checkpoint_path ${dir} must be an existing directory`);
    this.d.runtimes.get(handler); // an unknown handler is refused
    noOptions('options', options);
    if (!containerNames.length) throw invalid('container_configs is empty');
    if (containerNames.some((n) => !n) || new Set(containerNames).size !== containerNames.length) throw invalid('container_configs need unique, non-empty metadata names');
    await this.criuReady();
    throw new BerthError('Unimplemented', 'berth does not restore pod checkpoints yet');
  }
}
