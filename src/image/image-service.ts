// Pull, list, inspect and remove images. A pull resolves the reference through
// registries.conf, fetches the manifest and config, and has the native core extract
// each layer (digest and diffID verified in the same pass) into a temporary directory
// that is renamed into place only when complete.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BerthError, invalid, precondition, wrap } from '../errors.js';
import type { Logger } from '../log.js';
import { native } from '../native/index.js';
import { downloadBlob, fetchManifest, fetchSmallBlob, type Source } from '../registry/client.js';
import type { RegistriesConf } from '../registry/registries-conf.js';
import { chainIds, type ImageConfig, type ImageRecord, ImageStore, type LayerRef } from './image-store.js';
import { formatReference, parseReference, repoName } from './reference.js';

const LAYER_CONCURRENCY = 3;
/** Space a pull leaves free on the image store's filesystem. */
const SPACE_RESERVE = 1024 ** 3;

export class ImageService {
  private readonly inflight = new Map<string, Promise<ImageRecord>>();
  private readonly tmpDir: string;

  constructor(
    readonly store: ImageStore,
    private readonly registries: () => RegistriesConf,
    private readonly log: Logger,
    /** Tells whether a container still uses an image (removal is refused then). */
    private readonly inUse: (imageId: string) => boolean,
    private readonly limits: { maxLayerBytes: number },
  ) {
    this.tmpDir = path.join(store.root, 'tmp');
  }

  async init(): Promise<void> {
    await native.removeTree(this.tmpDir);
    await fs.mkdir(this.tmpDir, { recursive: true });
    await this.store.load();
  }

  /** Looks an image up by ID, prefix, tag, digest or short name; undefined if absent. */
  find(ref: string): ImageRecord | undefined {
    if (!ref) throw invalid('image reference is empty');
    let normalised: string | undefined;
    try {
      normalised = formatReference(parseReference(ref));
    } catch {
      normalised = undefined;
    }
    return this.store.find(ref, normalised);
  }

  async pull(ref: string): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const key = formatReference(parsed);
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.doPull(key, parsed).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async doPull(key: string, ref: ReturnType<typeof parseReference>): Promise<ImageRecord> {
    const name = repoName(ref);
    const { endpoints, blocked } = this.registries().endpoints(name);
    if (blocked) throw precondition(`image ${key}: registry for ${name} is blocked in registries.conf`);
    let lastErr: unknown;
    for (const ep of endpoints) {
      try {
        return await this.pullFrom({ ...ep }, key, ref);
      } catch (e) {
        lastErr = e;
        this.log.warn({ image: key, endpoint: ep.location, err: (e as Error).message }, 'pull from endpoint failed');
        if (e instanceof BerthError && e.kind === 'InvalidArgument') break;
      }
    }
    throw lastErr instanceof BerthError ? lastErr : wrap(lastErr, `image ${key}`);
  }

  private async pullFrom(src: Source, key: string, ref: ReturnType<typeof parseReference>): Promise<ImageRecord> {
    const started = Date.now();
    const what = `image ${key} (${src.location})`;
    const { manifest, digest } = await fetchManifest(src, ref.digest ?? ref.tag!, what);
    const configBlob = await fetchSmallBlob(src, manifest.config.digest, what);
    const config = JSON.parse(configBlob.toString('utf8')) as { config?: ImageConfig; rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw invalid(`${what}: config lists ${diffIds.length} diffIDs for ${manifest.layers.length} layers`);
    }
    const chains = chainIds(diffIds);
    const layers: LayerRef[] = manifest.layers.map((l, i) => ({ digest: l.digest, diffId: diffIds[i]!, chainId: chains[i]!, size: l.size }));
    let next = 0;
    const worker = async () => {
      while (next < layers.length) await this.fetchLayer(src, layers[next++]!, what);
    };
    await Promise.all(Array.from({ length: Math.min(LAYER_CONCURRENCY, layers.length) }, worker));

    const id = manifest.config.digest;
    const existing = this.store.get(id);
    const tag = ref.tag ? `${repoName(ref)}:${ref.tag}` : undefined;
    const repoDigest = `${repoName(ref)}@${digest}`;
    const img: ImageRecord = {
      id,
      repoTags: [...new Set([...(existing?.repoTags ?? []), ...(tag ? [tag] : [])])],
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), repoDigest])],
      layers,
      size: layers.reduce((a, l) => a + l.size, 0) + configBlob.length,
      config: config.config ?? {},
      pulledAt: Date.now(),
    };
    await this.store.put(img);
    this.log.info({ image: key, id, layers: layers.length, bytes: img.size, ms: Date.now() - started }, 'image pulled');
    return img;
  }

  /** Free bytes on the image store's filesystem, less a reserve for everything else. */
  private async spaceLeft(): Promise<number> {
    const st = await fs.statfs(this.tmpDir);
    return st.bavail * st.bsize - SPACE_RESERVE;
  }

  /** Downloads and extracts one layer unless a committed copy (same chainID) exists. */
  private async fetchLayer(src: Source, layer: LayerRef, what: string): Promise<void> {
    if (this.store.hasLayer(layer.chainId)) return;
    const space = await this.spaceLeft();
    if (layer.size > space) throw precondition(`${what}: layer ${layer.digest} is ${layer.size} bytes, more than the ${Math.max(space, 0)} bytes free in ${this.tmpDir}`);
    const work = path.join(this.tmpDir, `layer-${randomBytes(6).toString('hex')}`);
    await fs.mkdir(work, { recursive: true });
    try {
      const blob = path.join(work, 'blob');
      await downloadBlob(src, layer.digest, layer.size, blob, what);
      // A gzip bomb stops at the configured cap, or before it would fill the disk.
      const maxBytes = Math.max(0, Math.min(this.limits.maxLayerBytes, (await this.spaceLeft()) - layer.size));
      await native
        .extractLayer(blob, path.join(work, 'diff'), `${layer.digest} of ${what}`, layer.digest, layer.diffId, layer.size, maxBytes)
        .catch((e: Error) => {
          throw invalid(e.message);
        });
      await fs.rm(blob);
      await fs.writeFile(path.join(work, 'committed'), JSON.stringify(layer));
      const dest = this.store.layerDir(layer.chainId);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.rename(work, dest).catch(async (e: NodeJS.ErrnoException) => {
        // Another pull committed the same layer first: keep theirs.
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      });
    } finally {
      // Off the event loop: a layer may hold hundreds of thousands of entries.
      await native.removeTree(work);
    }
  }

  async remove(ref: string): Promise<void> {
    const img = this.find(ref);
    if (!img) return; // RemoveImage is idempotent.
    if (this.inUse(img.id)) throw precondition(`image ${ref} (${img.id}) is in use by a container`);
    await this.store.remove(img.id);
    this.log.info({ image: ref, id: img.id }, 'image removed');
  }
}
