import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkCommand } from '../../src/oci/command-check.js';

// A rootfs like busybox's (bin/sh a symlink to busybox) plus a merged-/usr style sbin -> usr/sbin.
function rootfs(): string {
  const r = mkdtempSync(path.join(os.tmpdir(), 'berth-cmd-'));
  mkdirSync(path.join(r, 'bin'));
  mkdirSync(path.join(r, 'usr', 'sbin'), { recursive: true });
  writeFileSync(path.join(r, 'bin', 'busybox'), '', { mode: 0o755 });
  symlinkSync('busybox', path.join(r, 'bin', 'sh'));
  writeFileSync(path.join(r, 'usr', 'sbin', 'tool'), '', { mode: 0o755 });
  symlinkSync('usr/sbin', path.join(r, 'sbin'));
  return r;
}

test('a command that is in the rootfs passes, by path or through PATH; symlinks count as there', (t) => {
  const r = rootfs();
  try {
    t.notThrows(() => checkCommand(r, { args: ['/bin/busybox'] }));
    t.notThrows(() => checkCommand(r, { args: ['/bin/sh', '-c', 'true'] }));
    t.notThrows(() => checkCommand(r, { args: ['sh'], env: ['PATH=/usr/local/bin:/bin'] }));
    t.notThrows(() => checkCommand(r, { args: ['./relative'] }), 'relative to the working dir: left to the runtime');
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});

test('a command that is surely missing is INVALID_ARGUMENT in runc\'s words; an undecidable one is left to the runtime', (t) => {
  const r = rootfs();
  try {
    t.throws(() => checkCommand(r, { args: ['/no/such/binary'] }), { name: 'BerthError(InvalidArgument)', message: /no such file or directory/ });
    t.throws(() => checkCommand(r, { args: ['nope'], env: ['PATH=/usr/local/bin:/bin'] }), { message: /executable file not found in \$PATH/ });
    t.throws(() => checkCommand(r, { args: [] }), { message: /no command/ });
    // /sbin is a symlink (merged /usr): beneath-lookups do not follow it, so the runtime decides.
    t.notThrows(() => checkCommand(r, { args: ['/sbin/tool'] }));
    t.notThrows(() => checkCommand(r, { args: ['tool'], env: ['PATH=/sbin'] }));
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});
