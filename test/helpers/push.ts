// Pushes hand-made images to the local docker-registry through its HTTP API (the
// distribution spec's monolithic upload). skopeo would refuse or rewrite what the hostile
// corpus needs to serve (wrong sizes, bad diffIDs), so the test speaks the API itself.
import { randomBytes } from 'node:crypto';
import { registry } from './instance.js';
import { sha256 } from './tar.js';

export async function pushBlob(repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const head = await fetch(`http://${registry}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.ok) return digest;
  const start = await fetch(`http://${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start for ${repo}: ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, `http://${registry}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload of ${digest} to ${repo}: ${put.status} ${await put.text()}`);
  return digest;
}

export interface ImageSpec {
  layers: Array<{ blob: Buffer; diffId: string; /** Overrides the descriptor's size. */ size?: number }>;
  /** Merged into the image config's `config`. */
  config?: Record<string, unknown>;
  /** Overrides the config's diff_ids. */
  diffIds?: string[];
}

/** Pushes an image under `hostile/<name>:<random tag>` and returns its reference. */
export async function pushImage(name: string, spec: ImageSpec): Promise<string> {
  const repo = `hostile/${name}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], ...spec.config },
      rootfs: { type: 'layers', diff_ids: spec.diffIds ?? spec.layers.map((l) => l.diffId) },
    }),
  );
  const layers = [];
  for (const l of spec.layers) {
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(repo, l.blob), size: l.size ?? l.blob.length });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(repo, config), size: config.length },
    layers,
  };
  const tag = randomBytes(4).toString('hex');
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: JSON.stringify(manifest),
    headers: { 'content-type': manifest.mediaType },
  });
  if (res.status !== 201) throw new Error(`manifest push for ${repo}: ${res.status} ${await res.text()}`);
  return `${registry}/${repo}:${tag}`;
}

/** The layers of an image already in the local registry (to build hostile images on a real base). */
export async function layersOf(repo: string, tag: string): Promise<ImageSpec['layers']> {
  const get = async (what: string, accept: string) => {
    const res = await fetch(`http://${registry}/v2/${repo}/${what}`, { headers: { accept } });
    if (!res.ok) throw new Error(`${repo} ${what}: ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  };
  const manifest = JSON.parse((await get(`manifests/${tag}`, 'application/vnd.oci.image.manifest.v1+json')).toString()) as {
    config: { digest: string };
    layers: Array<{ digest: string }>;
  };
  const config = JSON.parse((await get(`blobs/${manifest.config.digest}`, '*/*')).toString()) as { rootfs: { diff_ids: string[] } };
  return Promise.all(manifest.layers.map(async (l, i) => ({ blob: await get(`blobs/${l.digest}`, '*/*'), diffId: config.rootfs.diff_ids[i]! })));
}
