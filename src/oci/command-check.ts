// CreateContainer checks that the command exists in the container's rootfs. The runtime
// is only run at StartContainer (as containerd does), and `runc create` used to be what
// refused a missing executable; the kubelet should still learn it from CreateContainer,
// with the runtime's words. Looked up beneath the rootfs, nothing followed: a name that is
// a symlink counts as there, and a lookup the check cannot decide (a symlinked directory
// on the way, as in merged-/usr images) is left to the runtime at start.
import path from 'node:path';
import { invalid } from '../errors.js';
import { native } from '../native/index.js';

/** 'yes', 'no', or 'unknown' (decided by the runtime later). */
function present(rootfs: string, file: string): 'yes' | 'no' | 'unknown' {
  try {
    return native.kindBeneath(rootfs, path.posix.normalize(file).replace(/^\/+/, '')) === null ? 'no' : 'yes';
  } catch {
    return 'unknown';
  }
}

export function checkCommand(rootfs: string, proc: { args?: string[]; env?: string[] }): void {
  const cmd = proc.args?.[0];
  if (!cmd) throw invalid('the container has no command: neither the config nor the image names one');
  if (cmd.includes('/')) {
    if (!path.posix.isAbsolute(cmd)) return; // relative to the working dir: the runtime resolves it
    if (present(rootfs, cmd) === 'no') throw invalid(`exec: "${cmd}": stat ${cmd}: no such file or directory`);
    return;
  }
  const pathVar = proc.env?.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const dirs = pathVar.split(':').filter((d) => path.posix.isAbsolute(d));
  if (dirs.length === 0) return;
  if (dirs.every((d) => present(rootfs, path.posix.join(d, cmd)) === 'no')) {
    throw invalid(`exec: "${cmd}": executable file not found in $PATH`);
  }
}
