// What this berthd process may hand to containers: its capability bounding set, and the
// lowest oom_score_adj it can set (root without CAP_SYS_RESOURCE cannot go below its own,
// so the kubelet's -997/-998 are clamped, as containerd's restrict_oom_score_adj does).
import { readFileSync, writeFileSync } from 'node:fs';

const CAP_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
];

/** Capability names in a /proc/<pid>/status Cap* hex mask. */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAP_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n).map((n) => `CAP_${n}`);
}

export function boundingCaps(): string[] {
  const status = readFileSync('/proc/self/status', 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0';
  return capsFromMask(hex);
}

/** The lowest oom_score_adj berthd can give a process: tries one below its own and restores. */
export function minOomScoreAdj(): { min: number; restricted: boolean } {
  const file = '/proc/self/oom_score_adj';
  const own = Number(readFileSync(file, 'utf8').trim());
  if (own <= -1000) return { min: -1000, restricted: false };
  try {
    writeFileSync(file, String(own - 1));
    writeFileSync(file, String(own));
    return { min: -1000, restricted: false };
  } catch {
    return { min: own, restricted: true };
  }
}
