// The container's process identity: uid, primary gid and supplementary groups, from the
// CRI security context and the image USER, resolved by name through the image's own
// /etc/passwd and /etc/group (as Docker, containerd and the kubelet expect).
// Parsing and resolution are pure; readIdentityFiles reads the two files beneath the
// rootfs without following symlinks and with a size bound (hostile images).
import { invalid } from '../errors.js';
import { type ContainerConfig, SupplementalGroupsPolicy } from '../gen/runtime/v1/api.js';
import { native } from '../native/index.js';

export interface ProcessUser {
  uid: number;
  gid: number;
  /** Supplementary groups, in the order the kernel gets them (no duplicates). */
  additionalGids: number[];
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The image's files as read (absent: the image has none). */
export interface IdentityFiles {
  passwd?: string;
  group?: string;
  /** Why a file present in the image cannot be used (a symlink, not regular, too large). */
  unusable?: { passwd?: string; group?: string };
}

/** /etc/passwd and /etc/group larger than this are refused rather than parsed. */
export const MAX_IDENTITY_FILE = 4 * 1024 * 1024;
/** setgroups(2) takes at most this many groups. */
const NGROUPS_MAX = 65536;
/** Linux ids are 32-bit; (uid_t)-1 means "no change" to the kernel and is never an id. */
export const MAX_ID = 0xfffffffe;

const isId = (s: string) => /^\d{1,10}$/.test(s) && Number(s) <= MAX_ID;

/** Lines of a colon file with at least `fields` fields; malformed lines are skipped, as libc does. */
function records(text: string, fields: number): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= fields);
}

export function parsePasswd(text: string): PasswdEntry[] {
  return records(text, 4)
    .filter((f) => isId(f[2]!) && isId(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
}

export function parseGroup(text: string): GroupEntry[] {
  return records(text, 3)
    .filter((f) => isId(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) }));
}

function checkId(field: string, v: bigint | number): number {
  if (v < 0 || v > MAX_ID) throw invalid(`${field} ${v} is out of range (0..${MAX_ID})`);
  return Number(v);
}

/**
 * Resolves who the container runs as:
 * - run_as_user (numeric) or run_as_username, else the image USER (`user`, `user:group`,
 *   names or numbers); a name must be in the image's /etc/passwd, a group name in /etc/group.
 * - primary gid: run_as_group, else the USER's group part, else the passwd entry's gid, else 0.
 * - supplementary groups: the primary gid, then (policy Merge, the default) the groups of
 *   /etc/group that list the user by name, then supplemental_groups. Strict leaves out
 *   the image's groups.
 */
export function resolveUser(c: ContainerConfig, imageUser: string | undefined, files: IdentityFiles): ProcessUser {
  const sc = c.linux?.securityContext;
  const passwd = parsePasswd(files.passwd ?? '');
  const group = parseGroup(files.group ?? '');
  let userPart: string;
  let groupPart: string | undefined;
  if (sc?.runAsUser) userPart = String(checkId('run_as_user', sc.runAsUser.value));
  else if (sc?.runAsUsername) userPart = sc.runAsUsername;
  else {
    const u = imageUser ?? '';
    const i = u.indexOf(':');
    userPart = i < 0 ? u : u.slice(0, i);
    groupPart = i < 0 ? undefined : u.slice(i + 1);
  }
  if (!userPart) userPart = '0';

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isId(userPart)) {
    uid = Number(userPart);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (files.unusable?.passwd) throw invalid(`user ${JSON.stringify(userPart)}: the image's /etc/passwd cannot be used: ${files.unusable.passwd}`);
    if (!entry) {
      throw invalid(`user ${JSON.stringify(userPart)} is not in the image's /etc/passwd${files.passwd === undefined ? ' (the image has none)' : ''}`);
    }
    uid = entry.uid;
  }

  let gid: number;
  if (sc?.runAsGroup) gid = checkId('run_as_group', sc.runAsGroup.value);
  else if (groupPart) {
    if (isId(groupPart)) gid = Number(groupPart);
    else {
      const g = group.find((x) => x.name === groupPart);
      if (files.unusable?.group) throw invalid(`group ${JSON.stringify(groupPart)}: the image's /etc/group cannot be used: ${files.unusable.group}`);
      if (!g) throw invalid(`group ${JSON.stringify(groupPart)} is not in the image's /etc/group${files.group === undefined ? ' (the image has none)' : ''}`);
      gid = g.gid;
    }
  } else gid = entry?.gid ?? 0;

  const extra: number[] = [gid];
  const strict = sc?.supplementalGroupsPolicy === SupplementalGroupsPolicy.Strict;
  if (!strict && entry) for (const g of group) if (g.members.includes(entry.name)) extra.push(g.gid);
  for (const g of sc?.supplementalGroups ?? []) extra.push(checkId('supplemental_groups', g));
  const additionalGids = [...new Set(extra)];
  if (additionalGids.length > NGROUPS_MAX) throw invalid(`user ${JSON.stringify(userPart)} would be in ${additionalGids.length} groups; the kernel allows ${NGROUPS_MAX}`);
  return { uid, gid, additionalGids };
}

/**
 * Reads /etc/passwd and /etc/group beneath `rootfs`: nothing followed, at most
 * MAX_IDENTITY_FILE each. A file that cannot be used is not an error here: numeric users
 * need neither file, so only a lookup by name fails on it (resolveUser says why).
 */
export async function readIdentityFiles(rootfs: string): Promise<IdentityFiles> {
  const out: IdentityFiles = {};
  for (const f of ['passwd', 'group'] as const) {
    // The OCI runtime opens both files inside the container whatever the user (runc looks
    // up HOME and groups): a FIFO there would hang it, a device be read. Refused up front.
    if (kindOf(rootfs, `etc/${f}`) === 'other') throw invalid(`the image's /etc/${f} is not a regular file (a FIFO or device node the runtime would block on or read)`);
    try {
      out[f] = (await native.readFileBeneath(rootfs, `etc/${f}`, MAX_IDENTITY_FILE))?.toString('utf8');
    } catch (e) {
      out.unusable = { ...out.unusable, [f]: (e as Error).message.split(rootfs).join('') };
    }
  }
  return out;
}

function kindOf(rootfs: string, rel: string): string | null {
  try {
    return native.kindBeneath(rootfs, rel);
  } catch {
    return null; // a symlink on the way: the runtime resolves it inside the container, which is safe
  }
}
