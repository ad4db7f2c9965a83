// Sentinel files around the sandbox: hostile input aims at them (by absolute path, by
// `..`, through symlinks), and each test asserts that nothing in them changed — content,
// mode, owner, mtime, xattrs, and which names exist.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// Node has no xattr API; python3 (installed by the test set-up) reads them.
const snapshotScript = `
import hashlib, json, os, sys
out = {}
for base, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(base, n)
        st = os.lstat(p)
        x = {}
        try:
            x = {k: os.getxattr(p, k, follow_symlinks=False).hex() for k in os.listxattr(p, follow_symlinks=False)}
        except OSError:
            pass
        body = ''
        if os.path.isfile(p) and not os.path.islink(p):
            body = hashlib.sha256(open(p, 'rb').read()).hexdigest()
        out[os.path.relpath(p, sys.argv[1])] = [st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_rdev, body, x]
print(json.dumps(out, sort_keys=True))
`;

export interface Sentinels {
  dir: string;
  /** A file hostile input tries to delete, overwrite or append to. */
  victim: string;
  snapshot(): string;
}

export function makeSentinels(parent: string): Sentinels {
  const dir = path.join(parent, 'sentinel');
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  const victim = path.join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  writeFileSync(path.join(dir, 'sub', 'victim'), 'precious too\n');
  return { dir, victim, snapshot: () => snapshotOf(dir) };
}

/** A snapshot of everything under `dir` (to compare before and after). */
export function snapshotOf(dir: string): string {
  return execFileSync('python3', ['-c', snapshotScript, dir], { encoding: 'utf8' });
}

/** Resident set size of a process, in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
