// Validation at the RPC edge, once: names, IDs and paths that later reach a filesystem
// path (or a file berth writes for the pod) are checked here, so services can join them
// without re-checking. Each error is INVALID_ARGUMENT and names the field.
import path from 'node:path';
import { invalid } from '../errors.js';
import { type ContainerConfig, MountPropagation, type PodSandboxConfig } from '../gen/runtime/v1/api.js';
import { checkUsernsOptions } from '../oci/userns.js';

// NUL, C0 controls and DEL: never part of a name, and a newline would inject lines into
// /etc/hosts or resolv.conf.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

/** Kubernetes object names are at most 253 characters; berth allows no longer. */
const MAX_NAME = 253;
const MAX_PATH = 4096;

function plainText(field: string, v: string, max: number): void {
  if (v.length > max) throw invalid(`${field} is ${v.length} characters long (at most ${max})`);
  if (controlChars.test(v)) throw invalid(`${field} ${JSON.stringify(v)} holds a NUL or control character`);
}

/** A name that may become one path component: no '/', not '.' or '..'. */
export function checkName(field: string, v: string): void {
  plainText(field, v, MAX_NAME);
  if (v.includes('/') || v === '.' || v === '..') throw invalid(`${field} ${JSON.stringify(v)} must not contain '/' or be '.' or '..'`);
}

/** An absolute host path without '..' components (the kubelet's pod log directory). */
export function checkAbsolutePath(field: string, v: string): void {
  plainText(field, v, MAX_PATH);
  if (!path.isAbsolute(v)) throw invalid(`${field} ${JSON.stringify(v)} must be absolute`);
  if (v.split('/').includes('..')) throw invalid(`${field} ${JSON.stringify(v)} must not contain '..'`);
}

/** A relative path that stays beneath its base: no leading '/', no '..' component. */
export function checkRelativePath(field: string, v: string): void {
  plainText(field, v, MAX_PATH);
  if (path.isAbsolute(v) || v.split('/').includes('..')) throw invalid(`${field} ${JSON.stringify(v)} escapes the directory it is relative to`);
  if (path.normalize(v) === '.' || v.endsWith('/')) throw invalid(`${field} ${JSON.stringify(v)} must name a file`);
}

export function checkPodConfig(cfg: PodSandboxConfig): void {
  const m = cfg.metadata;
  if (!m?.name || !m.namespace || !m.uid) throw invalid('pod sandbox config needs metadata with name, namespace and uid');
  checkName('metadata.name', m.name);
  checkName('metadata.namespace', m.namespace);
  checkName('metadata.uid', m.uid);
  if (cfg.logDirectory) checkAbsolutePath('log_directory', cfg.logDirectory);
  if (cfg.hostname) {
    checkName('hostname', cfg.hostname);
    // sethostname(2) takes at most HOST_NAME_MAX (64) bytes.
    if (Buffer.byteLength(cfg.hostname) > 64) throw invalid(`hostname ${JSON.stringify(cfg.hostname)} is longer than 64 bytes`);
  }
  const dns = cfg.dnsConfig;
  for (const [field, list] of [['dns_config.servers', dns?.servers], ['dns_config.searches', dns?.searches], ['dns_config.options', dns?.options]] as const) {
    for (const v of list ?? []) plainText(field, v, MAX_NAME);
  }
  checkUsernsOptions('linux.security_context.namespace_options.userns_options', cfg.linux?.securityContext?.namespaceOptions?.usernsOptions);
}

export function checkContainerConfig(cfg: ContainerConfig): void {
  if (!cfg.metadata?.name) throw invalid('container config needs metadata with a name');
  checkName('metadata.name', cfg.metadata.name);
  checkUsernsOptions('linux.security_context.namespace_options.userns_options', cfg.linux?.securityContext?.namespaceOptions?.usernsOptions);
  if (!cfg.image?.image) throw invalid('container config needs an image');
  plainText('image.image', cfg.image.image, MAX_PATH);
  if (cfg.logPath) checkRelativePath('log_path', cfg.logPath);
  const sc = cfg.linux?.securityContext;
  // A group alone names no user to run as (containerd and CRI-O refuse it too).
  if (sc?.runAsGroup && !sc.runAsUser && !sc.runAsUsername) throw invalid('run_as_group is set without run_as_user or run_as_username');
  if (sc?.runAsUser) checkId('run_as_user', sc.runAsUser.value);
  if (sc?.runAsGroup) checkId('run_as_group', sc.runAsGroup.value);
  for (const g of sc?.supplementalGroups ?? []) checkId('supplemental_groups', g);
  if (sc?.runAsUsername) plainText('run_as_username', sc.runAsUsername, MAX_NAME);
  for (const e of cfg.envs) checkEnv(e.key, e.value);
  if (cfg.workingDir) {
    plainText('working_dir', cfg.workingDir, MAX_PATH);
    if (!path.isAbsolute(cfg.workingDir)) throw invalid(`working_dir ${JSON.stringify(cfg.workingDir)} must be absolute`);
  }
  cfg.mounts.forEach((m, i) => checkMount(`mounts[${i}]`, m));
}

/** Linux ids are 32-bit, and (uid_t)-1 means "unchanged" to the kernel, never an id. */
function checkId(field: string, v: bigint): void {
  if (v < 0n || v > 0xfffffffen) throw invalid(`${field} ${v} is out of range (0..4294967294)`);
}

/** execve(2) takes NUL-terminated KEY=VALUE strings: a key with '=' or a control character, or a NUL anywhere, cannot be passed. */
function checkEnv(key: string, value: Uint8Array | string): void {
  if (!key || key.includes('=') || controlChars.test(key)) throw invalid(`envs: key ${JSON.stringify(key)} must be non-empty, without '=' or control characters`);
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  if (v.includes(0)) throw invalid(`envs: the value of ${key} holds a NUL byte`);
}

function checkMount(field: string, m: ContainerConfig['mounts'][number]): void {
  plainText(`${field}.container_path`, m.containerPath, MAX_PATH);
  if (!path.isAbsolute(m.containerPath)) throw invalid(`${field}.container_path ${JSON.stringify(m.containerPath)} must be absolute`);
  if (m.image?.image) {
    plainText(`${field}.image.image`, m.image.image, MAX_PATH);
    // An image volume is the image as pulled: the kubelet always asks for it read-only.
    if (!m.readonly) throw invalid(`${field}: an image volume (${m.image.image}) must be read-only`);
    if (m.imageSubPath) {
      plainText(`${field}.image_sub_path`, m.imageSubPath, MAX_PATH);
      if (path.isAbsolute(m.imageSubPath) || m.imageSubPath.split('/').includes('..')) {
        throw invalid(`${field}.image_sub_path ${JSON.stringify(m.imageSubPath)} must be relative to the image root, without '..'`);
      }
    }
    return;
  }
  if (m.imageSubPath) throw invalid(`${field}.image_sub_path is set but the mount names no image`);
  if (m.recursiveReadOnly) {
    // As the CRI says: recursive read-only needs read-only, and propagation would let
    // writable mounts in afterwards.
    if (!m.readonly) throw invalid(`${field}: recursive_read_only needs readonly`);
    if (m.propagation !== MountPropagation.PROPAGATION_PRIVATE) throw invalid(`${field}: recursive_read_only needs PROPAGATION_PRIVATE`);
  }
  plainText(`${field}.host_path`, m.hostPath, MAX_PATH);
}
