// Image references as the docker/distribution grammar defines them, normalised the way
// the containers tools and the kubelet expect: `busybox` → docker.io/library/busybox:latest.
import { invalid } from '../errors.js';
import { digestRe } from '../registry/digest.js';

export interface Reference {
  /** Registry host[:port] as written (docker.io for Docker Hub). */
  registry: string;
  /** Repository path inside the registry, e.g. library/busybox. */
  repository: string;
  tag?: string;
  digest?: string;
}

const componentRe = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;

export function parseReference(input: string): Reference {
  const ref = input.trim();
  if (!ref) throw invalid('image reference is empty');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestRe.test(digest)) throw invalid(`image reference ${JSON.stringify(input)}: bad digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw invalid(`image reference ${JSON.stringify(input)}: bad tag ${JSON.stringify(tag)}`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))) {
    registry = first === 'index.docker.io' ? 'docker.io' : first;
    parts.shift();
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!componentRe.test(p)) throw invalid(`image reference ${JSON.stringify(input)}: bad repository component ${JSON.stringify(p)}`);
  }
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: parts.join('/'), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function repoName(r: Reference): string {
  return `${r.registry}/${r.repository}`;
}

/** The canonical string: registry/repo[:tag][@digest]. */
export function formatReference(r: Reference): string {
  return `${repoName(r)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/**
 * A short name: no registry written (`busybox`, `library/busybox:1.36`), so the
 * registries.conf `unqualified-search-registries` decide where it comes from.
 */
export function isShortName(input: string): boolean {
  const first = input.trim().split('/')[0]!.replace(/[@:].*$/, '');
  const hasSlash = input.includes('/');
  return !(hasSlash && (first.includes('.') || input.split('/')[0]!.includes(':') || first === 'localhost' || /[A-Z]/.test(first)));
}

/** The fully qualified references a short name stands for, one per search registry, in order. */
export function shortNameCandidates(input: string, searchRegistries: string[]): Reference[] {
  return searchRegistries.map((reg) => parseReference(`${reg.replace(/\/+$/, '')}/${input.trim()}`));
}

/** A short name without its tag and digest: the key its alias is looked up by. */
export function shortNameRepo(input: string): string {
  const noDigest = input.trim().replace(/@.*$/, '');
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

/** What a short name stands for through its alias `target` (registry/repository): the input's tag and digest kept. */
export function aliasCandidate(input: string, target: string): Reference {
  // parseReference gives "latest" only when neither tag nor digest was written, as the alias would.
  const { tag, digest } = parseReference(input.trim());
  return parseReference(`${target}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`);
}
