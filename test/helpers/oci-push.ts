// Pushes images to any registry (address and optional Authorization header) through the
// distribution API: OCI manifests with the layer media type of each layer (gzip, zstd,
// plain tar) and image indexes. Used by the image-pull tests and the pull benchmark.
import { sha256 } from './tar.js';

export const layerTypes = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  tar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export interface Target {
  /** host:port of the registry (plain HTTP). */
  registry: string;
  authorization?: string;
}

function headers(t: Target, extra: Record<string, string> = {}): Record<string, string> {
  return t.authorization ? { ...extra, authorization: t.authorization } : extra;
}

export async function pushBlobTo(t: Target, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const head = await fetch(`http://${t.registry}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: headers(t) });
  if (head.ok) return digest;
  const start = await fetch(`http://${t.registry}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: headers(t) });
  if (start.status !== 202) throw new Error(`upload start for ${repo}: ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, `http://${t.registry}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: blob, headers: headers(t, { 'content-type': 'application/octet-stream' }) });
  if (put.status !== 201) throw new Error(`upload of ${digest} to ${repo}: ${put.status} ${await put.text()}`);
  return digest;
}

export async function putManifest(t: Target, repo: string, tag: string, doc: object, mediaType: string): Promise<string> {
  const body = Buffer.from(JSON.stringify(doc));
  const res = await fetch(`http://${t.registry}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: headers(t, { 'content-type': mediaType }) });
  if (res.status !== 201) throw new Error(`manifest push for ${repo}:${tag}: ${res.status} ${await res.text()}`);
  return sha256(body);
}

export interface PushedLayer {
  blob: Buffer;
  diffId: string;
  mediaType: string;
}

/** Pushes an OCI image; returns the manifest's digest and size (for an index). */
export async function pushOci(t: Target, repo: string, tag: string, layers: PushedLayer[], config: Record<string, unknown> = {}): Promise<{ digest: string; size: number }> {
  const cfg = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], ...config },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: 'berth test layer' })),
    }),
  );
  const descs = [];
  for (const l of layers) descs.push({ mediaType: l.mediaType, digest: await pushBlobTo(t, repo, l.blob), size: l.blob.length });
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlobTo(t, repo, cfg), size: cfg.length },
    layers: descs,
  };
  const digest = await putManifest(t, repo, tag, manifest, manifest.mediaType);
  return { digest, size: Buffer.byteLength(JSON.stringify(manifest)) };
}
