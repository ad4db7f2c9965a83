import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type LinuxContainerSecurityContext, SecurityProfile_ProfileType } from '../../src/gen/runtime/v1/api.js';
import { convertProfile, defaultProfile, seccompChoice, seccompFor } from '../../src/oci/seccomp.js';
import { DEFAULT_CAPS } from '../../src/oci/spec.js';

const sc = (p: Partial<LinuxContainerSecurityContext>) => p as LinuxContainerSecurityContext;

test('choice: the seccomp field wins, the deprecated path is understood, neither is unconfined', (t) => {
  t.deepEqual(seccompChoice(undefined), { kind: 'unconfined' });
  t.deepEqual(seccompChoice(sc({ seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault, localhostRef: '' } })), { kind: 'runtime-default' });
  t.deepEqual(seccompChoice(sc({ seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: '/p/x.json' }, seccompProfilePath: 'unconfined' })), { kind: 'localhost', file: '/p/x.json' });
  t.deepEqual(seccompChoice(sc({ seccompProfilePath: 'runtime/default' })), { kind: 'runtime-default' });
  t.deepEqual(seccompChoice(sc({ seccompProfilePath: 'localhost//p/y.json' })), { kind: 'localhost', file: '/p/y.json' });
  t.throws(() => seccompChoice(sc({ seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: 'rel.json' } })), { message: /absolute/ });
  t.throws(() => seccompChoice(sc({ seccompProfilePath: 'bogus' })), { message: /seccomp_profile_path/ });
});

test('RuntimeDefault: deny by default, arch-aware, capability-gated calls, clone without namespaces', (t) => {
  const p = defaultProfile(DEFAULT_CAPS, 'x64');
  t.is(p.defaultAction, 'SCMP_ACT_ERRNO');
  t.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const allowed = p.syscalls![0]!.names;
  for (const n of ['read', 'execve', 'openat', 'futex', 'chroot']) t.true(allowed.includes(n), n);
  for (const n of ['mount', 'sethostname', 'unshare', 'kexec_load', 'init_module', 'ptrace', 'io_uring_setup', 'keyctl', 'clock_settime']) t.false(allowed.includes(n), n);
  const clone = p.syscalls!.find((r) => r.names.includes('clone'))!;
  t.deepEqual(clone.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  t.is(p.syscalls!.find((r) => r.names.includes('clone3'))!.errnoRet, 38, 'ENOSYS, so libc falls back to clone');
  const admin = defaultProfile([...DEFAULT_CAPS, 'CAP_SYS_ADMIN'], 'arm64');
  t.deepEqual(admin.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.true(admin.syscalls![0]!.names.includes('sethostname'));
  t.deepEqual(admin.syscalls!.find((r) => r.names.includes('clone'))!.args, undefined);
});

test('Localhost profiles in Docker format convert, with includes/excludes evaluated', (t) => {
  const p = convertProfile({
    defaultAction: 'SCMP_ACT_ALLOW',
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] }],
    syscalls: [
      { names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' },
      { name: 'ptrace', action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_PTRACE'] } },
      { names: ['x'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
    ],
  }, DEFAULT_CAPS, 'x64');
  t.deepEqual(p, { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }] });
  t.throws(() => convertProfile([], DEFAULT_CAPS), { message: /not a JSON object/ });
  t.throws(() => convertProfile({ defaultAction: 'ALLOW' }, DEFAULT_CAPS), { message: /defaultAction/ });
  t.throws(() => convertProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, DEFAULT_CAPS), { message: /names no system call/ });
});

test('seccompFor: privileged ignores it, a missing file is FAILED_PRECONDITION, bad JSON INVALID_ARGUMENT', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-seccomp-'));
  try {
    const good = path.join(dir, 'good.json');
    writeFileSync(good, '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["sethostname"],"action":"SCMP_ACT_ERRNO"}]}');
    writeFileSync(path.join(dir, 'bad.json'), '{nope');
    const local = (f: string) => sc({ seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: path.join(dir, f) } });
    t.is((await seccompFor(local('good.json'), DEFAULT_CAPS))!.defaultAction, 'SCMP_ACT_ALLOW');
    t.is(await seccompFor({ ...local('good.json'), privileged: true }, DEFAULT_CAPS), undefined);
    t.is(await seccompFor(undefined, DEFAULT_CAPS), undefined);
    await t.throwsAsync(seccompFor(local('missing.json'), DEFAULT_CAPS), { name: 'BerthError(FailedPrecondition)', message: /no such file/ });
    await t.throwsAsync(seccompFor(local('bad.json'), DEFAULT_CAPS), { name: 'BerthError(InvalidArgument)', message: /not valid JSON/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
