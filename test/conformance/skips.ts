// The critest skip list, in one place. Each entry: a substring of the spec's full name,
// its kind, and why.
//   host     — this machine lacks the feature; `when` detects it at run time.
//   upstream — the spec needs an upstream image by exact digest (unreproducible offline).
//   todo     — berth does not do it yet; `issue` is the open issue that will.
import { existsSync, readFileSync } from 'node:fs';

export interface Skip {
  spec: string;
  kind: 'host' | 'upstream' | 'todo';
  why: string;
  issue?: number;
  /** For `host` entries: true when the host really lacks the feature. */
  when?: () => boolean;
}

const apparmorOff = () => !existsSync('/sys/kernel/security/apparmor') || readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() !== 'Y';
const selinuxOff = () => !existsSync('/sys/fs/selinux/enforce');

export const skips: Skip[] = [
  { spec: 'AppArmor', kind: 'host', why: 'AppArmor is not enabled on this kernel', when: apparmorOff },
  { spec: 'SELinux', kind: 'host', why: 'SELinux is not enabled on this kernel', when: selinuxOff },
  {
    spec: 'public image with digest should be pulled and removed',
    kind: 'upstream',
    why: 'pulls gcr.io/k8s-staging-cri-tools/test-image-digest by the digest of upstream\'s exact manifest bytes, which no offline build reproduces',
  },
];

/** The entries of `list` that apply on this host (host entries only when their check says so). */
export function activeSkips(list: Skip[] = skips): Skip[] {
  return list.filter((s) => s.kind !== 'host' || !s.when || safe(s.when));
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return true;
  }
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
