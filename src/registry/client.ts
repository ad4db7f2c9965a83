// A thin distribution-spec (Docker Registry HTTP API v2) client: manifests with content
// negotiation over the four manifest types, platform selection for indexes, blobs
// streamed to disk. Auth, retries and resumption come with the image-service issue.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BerthError, invalid, notFound, precondition, unavailable } from '../errors.js';
import { digestRe } from './digest.js';
import type { Endpoint } from './registries-conf.js';

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

const MAX_MANIFEST = 4 * 1024 * 1024;

export interface Source extends Endpoint {
  repository: string;
}

function baseUrl(src: Source): string {
  const host = src.location === 'docker.io' ? 'registry-1.docker.io' : src.location;
  return `${src.insecure ? 'http' : 'https'}://${host}/v2/${src.repository}`;
}

async function get(url: string, accept: string[], what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: accept.join(', ') }, redirect: 'follow', signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw unavailable(`${what}: registry unreachable at ${new URL(url).host}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, e);
  }
  if (res.ok) return res;
  await res.body?.cancel();
  if (res.status === 404) throw notFound(`${what}: not found at ${new URL(url).host}`);
  if (res.status === 401 || res.status === 403) {
    throw new BerthError('Unauthenticated', `${what}: ${new URL(url).host} answered ${res.status} (registry auth is not supported yet)`);
  }
  if (res.status >= 500) throw unavailable(`${what}: ${new URL(url).host} answered ${res.status}`);
  throw precondition(`${what}: ${new URL(url).host} answered ${res.status}`);
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Reads a body into memory, stopping as soon as it passes `limit` (whatever the headers said). */
async function readBounded(res: Response, limit: number, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > limit) {
    await res.body?.cancel();
    throw invalid(`${what}: ${len} bytes is over the ${limit}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw invalid(`${what}: more than the ${limit}-byte limit`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Fetches the image manifest for `reference` (tag or digest), resolving an index to the node's platform. */
export async function fetchManifest(src: Source, reference: string, what: string): Promise<{ manifest: Manifest; digest: string }> {
  const accept = Object.values(mediaTypes);
  const res = await get(`${baseUrl(src)}/manifests/${reference}`, accept, what);
  const body = await readBounded(res, MAX_MANIFEST, `${what}: manifest`);
  const digest = sha256(body);
  if (reference.startsWith('sha256:') && digest !== reference) {
    throw invalid(`${what}: manifest digest mismatch: asked ${reference}, got ${digest}`);
  }
  const doc = JSON.parse(body.toString('utf8')) as Manifest & { manifests?: Descriptor[] };
  const type = doc.mediaType ?? res.headers.get('content-type') ?? '';
  if (type === mediaTypes.ociIndex || type === mediaTypes.dockerList || doc.manifests) {
    const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
    const pick = doc.manifests?.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === arch);
    if (!pick) throw notFound(`${what}: no manifest for linux/${arch} in the index`);
    return fetchManifest(src, pick.digest, what);
  }
  if (doc.schemaVersion === 1) throw invalid(`${what}: Docker schema 1 manifests are not supported`);
  if (!doc.config || !Array.isArray(doc.layers)) throw invalid(`${what}: manifest of type ${type || 'unknown'} has no config/layers`);
  for (const d of [doc.config, ...doc.layers]) {
    if (!digestRe.test(d.digest)) throw invalid(`${what}: bad descriptor digest ${JSON.stringify(d.digest)}`);
    if (!Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${what}: descriptor ${d.digest} has an absurd size ${JSON.stringify(d.size)}`);
  }
  return { manifest: doc, digest };
}

/** Fetches a small blob (the image config) into memory and verifies its digest. */
export async function fetchSmallBlob(src: Source, digest: string, what: string): Promise<Buffer> {
  const res = await get(`${baseUrl(src)}/blobs/${digest}`, ['*/*'], what);
  const body = await readBounded(res, MAX_MANIFEST, `${what}: blob ${digest}`);
  if (sha256(body) !== digest) throw invalid(`${what}: blob ${digest} digest mismatch`);
  return body;
}

/**
 * Streams a blob to `file`, reading no more than the descriptor's declared `size` (a
 * registry that sends more, or less, is refused). The digest is verified by the native
 * extractor in the same pass it decompresses.
 */
export async function downloadBlob(src: Source, digest: string, size: number, file: string, what: string): Promise<void> {
  const res = await get(`${baseUrl(src)}/blobs/${digest}`, ['*/*'], what);
  if (!res.body) throw unavailable(`${what}: empty body for blob ${digest}`);
  const declared = Number(res.headers.get('content-length') ?? size);
  if (declared > size) {
    await res.body.cancel();
    throw invalid(`${what}: blob ${digest} is ${declared} bytes, but its descriptor says ${size}`);
  }
  let seen = 0;
  const bounded = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > size) return cb(invalid(`${what}: blob ${digest} is longer than the ${size} bytes its descriptor says`));
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), bounded, createWriteStream(file, { mode: 0o600 }));
  } catch (e) {
    if (e instanceof BerthError) throw e;
    throw unavailable(`${what}: download of blob ${digest} failed: ${(e as Error).message}`, e);
  }
  if (seen !== size) throw invalid(`${what}: blob ${digest} is ${seen} bytes, but its descriptor says ${size}`);
}
