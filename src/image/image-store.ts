// Image records (one JSON per image, keyed by config digest) and the content-addressed
// layer directories they share: <root>/layers/<chainID hex>/diff.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { ImageConfig } from '../oci/image-config.js';
import { native } from '../native/index.js';
import { readAll, resolvePrefix, writeRecord } from '../store/records.js';


export type { ImageConfig };

export interface LayerRef {
  digest: string;
  diffId: string;
  chainId: string;
  size: number;
}

export interface ImageRecord {
  /** Config digest, "sha256:<hex>". */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  layers: LayerRef[];
  size: number;
  config: ImageConfig;
  pulledAt: number;
  /** The rest of the OCI image config (created, platform, rootfs, history) for verbose ImageStatus; absent in records from before it was kept. */
  spec?: { created?: string; author?: string; architecture?: string; os?: string; variant?: string; rootfs?: unknown; history?: unknown[] };
  /** The platform manifest's digest (differs from the RepoDigest's when the tag names an index). */
  manifestDigest?: string;
}

export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}` : d);
  }
  return out;
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');

export class ImageStore {
  private readonly images = new Map<string, ImageRecord>();
  readonly imagesDir: string;
  readonly layersDir: string;

  constructor(readonly root: string) {
    this.imagesDir = path.join(root, 'images');
    this.layersDir = path.join(root, 'layers');
  }

  async load(): Promise<void> {
    for (const r of await readAll<ImageRecord>(this.imagesDir, 'image.json')) this.images.set(r.id, r);
  }

  list(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  /** Finds an image by ID, unique ID prefix, tag or repo digest. */
  find(ref: string, normalised?: string): ImageRecord | undefined {
    const byId = this.images.get(ref) ?? this.images.get(`sha256:${ref}`);
    if (byId) return byId;
    for (const img of this.images.values()) {
      if (img.repoTags.includes(ref) || img.repoDigests.includes(ref)) return img;
      if (normalised && (img.repoTags.includes(normalised) || img.repoDigests.includes(normalised))) return img;
    }
    if (/^(sha256:)?[a-f0-9]{3,64}$/.test(ref)) {
      const want = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
      const id = resolvePrefix(this.images.keys(), want);
      if (id && id !== 'ambiguous') return this.images.get(id);
    }
    return undefined;
  }

  layerDir(chainId: string): string {
    return path.join(this.layersDir, hex(chainId));
  }

  hasLayer(chainId: string): boolean {
    return existsSync(path.join(this.layerDir(chainId), 'committed'));
  }

  /** Saves an image; a tag it carries is taken from any other image that had it. */
  async put(img: ImageRecord): Promise<void> {
    for (const other of this.images.values()) {
      if (other.id === img.id) continue;
      const kept = other.repoTags.filter((t) => !img.repoTags.includes(t));
      if (kept.length !== other.repoTags.length) {
        other.repoTags = kept;
        await writeRecord(path.join(this.imagesDir, hex(other.id), 'image.json'), other);
      }
    }
    this.images.set(img.id, img);
    await writeRecord(path.join(this.imagesDir, hex(img.id), 'image.json'), img);
  }

  /** Deletes an image record and every layer no remaining image uses. */
  async remove(id: string): Promise<void> {
    const img = this.images.get(id);
    if (!img) return;
    this.images.delete(id);
    await fs.rm(path.join(this.imagesDir, hex(id)), { recursive: true, force: true });
    const used = new Set([...this.images.values()].flatMap((i) => i.layers.map((l) => l.chainId)));
    for (const l of img.layers) {
      // Off the event loop, with memory that does not grow with the layer's entry count.
      if (!used.has(l.chainId)) await native.removeTree(this.layerDir(l.chainId));
    }
  }
}
