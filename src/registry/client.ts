// A distribution-spec (Docker Registry HTTP API v2) client over a `Session` (auth,
// retries, timeouts, safe redirects: http.ts): manifests with content negotiation over
// the four manifest types, platform selection for indexes, and every document verified
// against its digest. Layer blobs are not read here: the native side downloads them
// (startLayerPull, with Range resume), given Session.blobRequest's URL and header.
import { createHash } from 'node:crypto';
import { BerthError, invalid, notFound, unavailable } from '../errors.js';
import { digestRe } from './digest.js';
import type { Session } from './http.js';

export { type Source, Session } from './http.js';

export const mediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface Manifest {
  mediaType?: string;
  schemaVersion?: number;
  config: Descriptor;
  layers: Descriptor[];
}

export const MAX_MANIFEST = 4 * 1024 * 1024;

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Reads a body into memory, stopping as soon as it passes `limit` (whatever the headers said). */
async function readBounded(session: Session, path: string, accept: string[], limit: number, what: string): Promise<{ body: Buffer; res: Response }> {
  const { res, watch } = await session.get(path, what, { accept: accept.join(', ') });
  try {
    const len = Number(res.headers.get('content-length') ?? '0');
    if (len > limit) throw invalid(`${what}: ${len} bytes from ${session.host} is over the ${limit}-byte limit`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
      watch.touch();
      size += chunk.length;
      if (size > limit) throw invalid(`${what}: more than the ${limit}-byte limit from ${session.host}`);
      chunks.push(Buffer.from(chunk));
    }
    return { body: Buffer.concat(chunks), res };
  } catch (e) {
    await res.body?.cancel().catch(() => undefined);
    if (e instanceof BerthError) throw e;
    throw unavailable(`${what}: reading from ${session.host} failed: ${(e as Error).message}`, e);
  } finally {
    watch.done();
  }
}

export interface Resolved {
  manifest: Manifest;
  /** Digest of what the reference names: the index when a tag points at one (the RepoDigest). */
  digest: string;
  /** Digest of the platform's image manifest. */
  manifestDigest: string;
}

/** The node's platform in OCI terms. */
export function nodePlatform(): { os: string; architecture: string } {
  const arch = ({ x64: 'amd64', arm64: 'arm64', ia32: '386' } as Record<string, string>)[process.arch] ?? process.arch;
  return { os: 'linux', architecture: arch };
}

/** Fetches the image manifest for `reference` (tag or digest), resolving an index to the node's platform. */
export async function fetchManifest(session: Session, reference: string, what: string): Promise<Resolved> {
  const { doc, digest, type } = await fetchDocument(session, reference, what);
  if (type === mediaTypes.ociIndex || type === mediaTypes.dockerList || doc.manifests) {
    const { os, architecture } = nodePlatform();
    const pick = doc.manifests?.find((m) => m.platform?.os === os && m.platform?.architecture === architecture);
    if (!pick) throw notFound(`${what}: no manifest for ${os}/${architecture} in the index ${digest} at ${session.host}`);
    if (!digestRe.test(pick.digest)) throw invalid(`${what}: bad descriptor digest ${JSON.stringify(pick.digest)} in the index`);
    const inner = await fetchDocument(session, pick.digest, what);
    if (inner.doc.manifests) throw invalid(`${what}: index ${digest} points at another index`);
    return { manifest: check(inner.doc, inner.type, what), digest, manifestDigest: inner.digest };
  }
  return { manifest: check(doc, type, what), digest, manifestDigest: digest };
}

type Doc = Manifest & { manifests?: Descriptor[] };

async function fetchDocument(session: Session, reference: string, what: string): Promise<{ doc: Doc; digest: string; type: string }> {
  const { body, res } = await readBounded(session, `/manifests/${reference}`, Object.values(mediaTypes), MAX_MANIFEST, `${what}: manifest`);
  const digest = sha256(body);
  // A manifest named by digest must hash to it; one named by tag must match the digest
  // the registry says it sent (when it says).
  const claimed = reference.startsWith('sha256:') ? reference : res.headers.get('docker-content-digest');
  if (claimed && claimed.startsWith('sha256:') && digest !== claimed) {
    throw invalid(`${what}: manifest digest mismatch from ${session.host}: expected ${claimed}, got ${digest}`);
  }
  let doc: Doc;
  try {
    doc = JSON.parse(body.toString('utf8')) as Doc;
  } catch {
    throw invalid(`${what}: manifest from ${session.host} is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null) throw invalid(`${what}: manifest from ${session.host} is not an object`);
  const header = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (doc.schemaVersion === 1) throw invalid(`${what}: Docker schema 1 manifests are not supported`);
  // A document that is both an index and a manifest is ambiguous: refuse it.
  if (doc.manifests && (doc.layers || doc.config)) throw invalid(`${what}: manifest ${digest} claims to be both an index and an image manifest`);
  return { doc, digest, type: doc.mediaType ?? header };
}

function check(doc: Doc, type: string, what: string): Manifest {
  if (!doc.config || !Array.isArray(doc.layers)) throw invalid(`${what}: manifest of type ${type || 'unknown'} has no config/layers`);
  for (const d of [doc.config, ...doc.layers]) {
    if (!d || !digestRe.test(d.digest)) throw invalid(`${what}: bad descriptor digest ${JSON.stringify(d?.digest)}`);
    if (!Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${what}: descriptor ${d.digest} has an absurd size ${JSON.stringify(d.size)}`);
  }
  return doc;
}

/** Fetches a small blob (the image config) into memory and verifies its digest. */
export async function fetchSmallBlob(session: Session, digest: string, what: string): Promise<Buffer> {
  const { body } = await readBounded(session, `/blobs/${digest}`, ['*/*'], MAX_MANIFEST, `${what}: blob ${digest}`);
  if (sha256(body) !== digest) throw invalid(`${what}: blob ${digest} digest mismatch from ${session.host}`);
  return body;
}
