// Pull, list, inspect and remove images. A pull resolves the reference through
// registries.conf, fetches the manifest and config, and streams each layer (several at
// once) from the HTTP body straight into the native extractor (digest, decompression
// and diffID in the same pass, no temp copy of the blob) inside a temporary directory
// that is renamed into place only when complete.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BerthError, invalid, notFound, precondition, unavailable, wrap } from '../errors.js';
import type { Logger } from '../log.js';
import { type LayerPullFailure, native } from '../native/index.js';
import { type CriAuth, type Credentials, fromAuthFile, fromCri } from '../registry/auth.js';
import { fetchManifest, fetchSmallBlob, Session, type Source } from '../registry/client.js';
import { registryHost } from '../registry/http.js';
import type { Alias, RegistriesConf } from '../registry/registries-conf.js';
import { chainIds, type ImageConfig, type ImageRecord, ImageStore, type LayerRef } from './image-store.js';
import { Policy } from './policy.js';
import { aliasCandidate, formatReference, isShortName, parseReference, repoName, shortNameCandidates, shortNameRepo } from './reference.js';

/** Layers fetched and extracted at once, unless configured. */
export const DEFAULT_CONCURRENT_DOWNLOADS = 3;
/** How often a running pull logs its progress. */
const PROGRESS_MS = 5000;
/** How often a running layer download's resumes are collected for the log. */
const RESUME_POLL_MS = 250;
/** Space a pull leaves free on the image store's filesystem. */
const SPACE_RESERVE = 1024 ** 3;

/** A pull's bytes: layers finished, plus those the native downloads report so far. */
interface Progress {
  done: number;
  total: number;
  active: Set<{ bytes(): number }>;
}

function progressBytes(p: Progress): number {
  let n = p.done;
  for (const a of p.active) n += a.bytes();
  return n;
}

/** The gRPC-facing error for a native layer download's failure (its message names layer, image and host). */
function pullError(f: LayerPullFailure): BerthError {
  switch (f.kind) {
    case 'status':
      if (f.status === 401 || f.status === 403) return new BerthError('Unauthenticated', f.message);
      if (f.status === 404) return notFound(f.message);
      if (f.status! >= 500 || f.status === 429) return unavailable(f.message);
      return precondition(f.message);
    case 'network':
    case 'cancelled':
      return unavailable(f.message);
    case 'tls':
      // An untrusted certificate is configuration (certs.d, insecure), not a blip.
      return precondition(f.message);
    default:
      // 'invalid' (the registry contradicts the descriptor) and 'layer' (verification
      // or extraction failed), as the streamed path reported them.
      return invalid(f.message);
  }
}

export class ImageService {
  private readonly inflight = new Map<string, Promise<ImageRecord>>();
  /** Layers being fetched, by chainID: two pulls that need one layer share its download. */
  private readonly layersInflight = new Map<string, Promise<void>>();
  private readonly tmpDir: string;

  constructor(
    readonly store: ImageStore,
    private readonly registries: () => RegistriesConf,
    private readonly log: Logger,
    /** Tells whether a container still uses an image (removal is refused then). */
    private readonly inUse: (imageId: string) => boolean,
    private readonly limits: { maxLayerBytes: number; maxConcurrentDownloads?: number; authFiles?: string[]; signaturePolicy?: string; certsDirs?: string[] },
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
    // A short name is its alias's image, then each search registry's, in order (as
    // containers/image's ResolveLocally looks): what a pull of it would have stored.
    const { alias, search } = this.shortName(ref);
    const candidates = [...(alias ? [aliasCandidate(ref, alias.target)] : []), ...shortNameCandidates(ref, search)];
    for (const c of candidates) {
      const hit = this.store.find(formatReference(c), formatReference(c));
      if (hit) return hit;
    }
    let normalised: string | undefined;
    try {
      normalised = formatReference(parseReference(ref));
    } catch {
      normalised = undefined;
    }
    return this.store.find(ref, normalised);
  }

  /** How registries.conf resolves `ref` if it is a short name: its alias, and the search registries. */
  private shortName(ref: string): { alias?: Alias; search: string[] } {
    if (!isShortName(ref) || /^[0-9a-f]{64}$|^sha256:/.test(ref)) return { search: [] };
    try {
      parseReference(ref);
    } catch {
      return { search: [] };
    }
    const conf = this.registries();
    return { alias: conf.alias(shortNameRepo(ref)), search: conf.searchRegistries };
  }

  /**
   * Pulls `ref`. A short name with an `[aliases]` entry comes from there and nowhere
   * else (containers/image: "always use an alias if present"); otherwise it is tried at
   * each `unqualified-search-registries` entry in order, and the first that has the
   * image wins (CRI-O's permissive mode, for the CRI).
   */
  async pull(ref: string, auth?: CriAuth): Promise<ImageRecord> {
    const { alias, search } = this.shortName(ref);
    if (alias) {
      const target = formatReference(aliasCandidate(ref, alias.target));
      // The file is named: the alias is where an unexpected source would come from.
      return this.pullOne(target, auth).catch((e: unknown) => {
        throw wrap(e, `short name ${JSON.stringify(ref)} (alias for ${alias.target} in ${alias.file})`);
      });
    }
    if (search.length === 0) return this.pullOne(ref, auth);
    const failures: string[] = [];
    let first: BerthError | undefined;
    for (const c of shortNameCandidates(ref, search)) {
      try {
        return await this.pullOne(formatReference(c), auth);
      } catch (e) {
        const err = e instanceof BerthError ? e : wrap(e, `image ${formatReference(c)}`);
        failures.push(err.message);
        // The most telling failure: one other than "not there".
        if (!first || (first.kind === 'NotFound' && err.kind !== 'NotFound')) first = err;
      }
    }
    const all = failures.join('; ');
    if (first!.kind === 'NotFound') throw notFound(`short name ${JSON.stringify(ref)}: no search registry has it (${search.join(', ')}): ${all}`);
    throw new BerthError(first!.kind, `short name ${JSON.stringify(ref)} (searched ${search.join(', ')}): ${all}`);
  }

  /** Pulls one fully qualified `ref`; a pull of the same reference already running is joined. */
  private async pullOne(ref: string, auth?: CriAuth): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const key = formatReference(parsed);
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.doPull(key, parsed, auth).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Credentials for one endpoint: the request's AuthConfig if it is for that host, else the auth file's. */
  private credentials(src: Source, auth: CriAuth | undefined): Credentials | undefined {
    const cri = fromCri(auth);
    const host = src.location.replace(/\/.*$/, '');
    if (cri && (!cri.server || cri.server === host || cri.server === registryHost(src))) return cri;
    return fromAuthFile(host, src.repository, this.limits.authFiles);
  }

  private async doPull(key: string, ref: ReturnType<typeof parseReference>, auth?: CriAuth): Promise<ImageRecord> {
    const name = repoName(ref);
    // Read at each pull, as registries.conf is: an edited policy applies at once.
    Policy.load(this.limits.signaturePolicy).check(key, name);
    const { endpoints, blocked } = this.registries().endpoints(name);
    if (blocked) throw precondition(`image ${key}: registry for ${name} is blocked in registries.conf`);
    let lastErr: unknown;
    for (const ep of endpoints) {
      try {
        return await this.pullFrom(new Session({ ...ep }, this.credentials({ ...ep }, auth), undefined, this.limits.certsDirs), key, ref);
      } catch (e) {
        lastErr = e;
        this.log.warn({ image: key, endpoint: ep.location, err: (e as Error).message }, 'pull from endpoint failed');
        // Bad content is bad on every mirror; a refused login is not (mirrors differ).
        if (e instanceof BerthError && e.kind === 'InvalidArgument') break;
      }
    }
    throw lastErr instanceof BerthError ? lastErr : wrap(lastErr, `image ${key}`);
  }

  private async pullFrom(session: Session, key: string, ref: ReturnType<typeof parseReference>): Promise<ImageRecord> {
    const started = Date.now();
    const what = `image ${key} (${session.src.location})`;
    const resolved = await fetchManifest(session, ref.digest ?? ref.tag!, what);
    const { manifest } = resolved;
    const configBlob = await fetchSmallBlob(session, manifest.config.digest, what);
    let config: { config?: ImageConfig; rootfs?: { diff_ids?: string[] } } & NonNullable<ImageRecord['spec']>;
    try {
      config = JSON.parse(configBlob.toString('utf8'));
    } catch {
      throw invalid(`${what}: config ${manifest.config.digest} is not JSON`);
    }
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw invalid(`${what}: config lists ${diffIds.length} diffIDs for ${manifest.layers.length} layers`);
    }
    const chains = chainIds(diffIds);
    const layers: LayerRef[] = manifest.layers.map((l, i) => ({ digest: l.digest, diffId: diffIds[i]!, chainId: chains[i]!, size: l.size }));
    const progress: Progress = { done: 0, active: new Set(), total: layers.reduce((a, l) => a + (this.store.hasLayer(l.chainId) ? 0 : l.size), 0) };
    const ticker = setInterval(() => this.log.info({ image: key, bytes: progressBytes(progress), total: progress.total }, 'pull progress'), PROGRESS_MS);
    try {
      let next = 0;
      const worker = async () => {
        while (next < layers.length) await this.layer(session, layers[next++]!, what, progress);
      };
      const n = Math.max(1, this.limits.maxConcurrentDownloads ?? DEFAULT_CONCURRENT_DOWNLOADS);
      await Promise.all(Array.from({ length: Math.min(n, layers.length) }, worker));
    } finally {
      clearInterval(ticker);
    }

    const id = manifest.config.digest;
    const existing = this.store.get(id);
    const tag = ref.tag ? `${repoName(ref)}:${ref.tag}` : undefined;
    // The digest the reference resolved to: an index's own when the tag names one, as
    // containerd and CRI-O record it (the kubelet's imageID is built from it).
    const repoDigest = `${repoName(ref)}@${resolved.digest}`;
    const img: ImageRecord = {
      id,
      repoTags: [...new Set([...(existing?.repoTags ?? []), ...(tag ? [tag] : [])])],
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), repoDigest])],
      layers,
      size: layers.reduce((a, l) => a + l.size, 0) + configBlob.length,
      config: config.config ?? {},
      pulledAt: Date.now(),
      spec: {
        created: config.created,
        author: config.author,
        architecture: config.architecture,
        os: config.os,
        variant: config.variant,
        rootfs: config.rootfs,
        history: Array.isArray(config.history) ? config.history : undefined,
      },
      manifestDigest: resolved.manifestDigest,
    };
    await this.store.put(img);
    const ms = Date.now() - started;
    this.log.info({ image: key, id, layers: layers.length, bytes: img.size, fetched: progress.done, ms, mbps: +(progress.done / 1e6 / (ms / 1000)).toFixed(1) }, 'image pulled');
    return img;
  }

  /** A layer, fetched unless committed already or joined if another pull is fetching it. */
  private layer(session: Session, layer: LayerRef, what: string, progress: Progress): Promise<void> {
    if (this.store.hasLayer(layer.chainId)) return Promise.resolve();
    const running = this.layersInflight.get(layer.chainId);
    if (running) return running;
    const p = this.fetchLayer(session, layer, what, progress).finally(() => this.layersInflight.delete(layer.chainId));
    this.layersInflight.set(layer.chainId, p);
    return p;
  }

  /** Free bytes on the image store's filesystem, less a reserve for everything else. */
  private async spaceLeft(): Promise<number> {
    const st = await fs.statfs(this.tmpDir);
    return st.bavail * st.bsize - SPACE_RESERVE;
  }

  /**
   * Has the native side download one layer and extract it as it arrives (no byte through
   * JS, memory bounded by its buffers, the event loop free), then commits it by rename.
   */
  private async fetchLayer(session: Session, layer: LayerRef, what: string, progress: Progress): Promise<void> {
    if (this.store.hasLayer(layer.chainId)) return;
    const space = await this.spaceLeft();
    if (layer.size > space) throw precondition(`${what}: layer ${layer.digest} is ${layer.size} bytes, more than the ${Math.max(space, 0)} bytes free in ${this.tmpDir}`);
    const work = path.join(this.tmpDir, `layer-${randomBytes(6).toString('hex')}`);
    await fs.mkdir(work, { recursive: true });
    // The extractor prefixes "layer ": this names which layer of which image, from which host.
    const layerWhat = `${layer.digest} of ${what}`;
    try {
      // A gzip bomb stops at the configured cap, or before it would fill the disk.
      const maxBytes = Math.max(0, Math.min(this.limits.maxLayerBytes, space));
      // One new token at most per layer: a 401 means "no token yet" or "it expired".
      for (let reauth = 0; ; reauth++) {
        const { url, authorization } = await session.blobRequest(layer.digest);
        const pull = native.startLayerPull({
          dest: path.join(work, 'diff'),
          layer: layerWhat,
          digest: layer.digest,
          diffId: layer.diffId,
          size: layer.size,
          maxUncompressed: maxBytes,
          url,
          authorization,
          insecure: session.src.insecure,
          caPem: session.tls.caPem,
          clientCerts: session.tls.clientCerts,
          idleTimeoutMs: session.timeoutMs,
        });
        progress.active.add(pull);
        const logResumes = () => {
          for (const r of pull.takeResumes()) this.log.warn({ layer: layer.digest, host: session.host, at: r.at, err: r.error }, 'layer download interrupted; resuming');
        };
        const resumeTicker = setInterval(logResumes, RESUME_POLL_MS);
        const { failure } = await pull.wait().finally(() => {
          clearInterval(resumeTicker);
          logResumes();
          progress.active.delete(pull);
        });
        if (!failure) break;
        if (failure.kind === 'status' && failure.status === 401 && reauth === 0 && (await session.reauthorize(failure.challenge ?? undefined))) {
          await native.removeTree(path.join(work, 'diff'));
          continue;
        }
        if (failure.kind === 'tls') throw precondition(`${failure.message} (${session.tlsHint(failure.message)})`);
        throw pullError(failure);
      }
      progress.done += layer.size;
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
