// linux.seccomp of the OCI spec from the CRI security context: Unconfined, RuntimeDefault
// (berth's built-in profile, ./seccomp-default.ts) or a Localhost profile file, given by
// the `seccomp` field or, for older kubelets, the deprecated `seccomp_profile_path`.
// Privileged containers run without seccomp, as in Docker, containerd and CRI-O.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { invalid, precondition } from '../errors.js';
import { type LinuxContainerSecurityContext, SecurityProfile_ProfileType } from '../gen/runtime/v1/api.js';
import { ARCHES, BASE_ALLOW, CAP_ALLOW, CLONE_NAMESPACE_FLAGS, PERSONALITIES } from './seccomp-default.js';

export type SeccompChoice = { kind: 'unconfined' } | { kind: 'runtime-default' } | { kind: 'localhost'; file: string };

interface Arg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}
interface Rule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Arg[];
}
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: Rule[];
}

/** Profile files larger than this are refused (real ones are tens of KiB). */
const MAX_PROFILE = 1024 * 1024;
const ENOSYS = 38;

/** Which profile the security context asks for. The `seccomp` field wins; neither means Unconfined. */
export function seccompChoice(sc: LinuxContainerSecurityContext | undefined): SeccompChoice {
  const p = sc?.seccomp;
  if (p) {
    if (p.profileType === SecurityProfile_ProfileType.Unconfined) return { kind: 'unconfined' };
    if (p.profileType === SecurityProfile_ProfileType.RuntimeDefault) return { kind: 'runtime-default' };
    if (p.profileType === SecurityProfile_ProfileType.Localhost) return { kind: 'localhost', file: localhostFile('seccomp.localhost_ref', p.localhostRef) };
    throw invalid(`seccomp.profile_type ${p.profileType} is not known`);
  }
  const old = sc?.seccompProfilePath ?? '';
  if (old === '' || old === 'unconfined') return { kind: 'unconfined' };
  if (old === 'runtime/default' || old === 'docker/default') return { kind: 'runtime-default' };
  if (old.startsWith('localhost/')) return { kind: 'localhost', file: localhostFile('seccomp_profile_path', old.slice('localhost/'.length)) };
  throw invalid(`seccomp_profile_path ${JSON.stringify(old)} is not unconfined, runtime/default or localhost/<path>`);
}

function localhostFile(field: string, p: string): string {
  if (!p || !path.isAbsolute(p)) throw invalid(`${field} ${JSON.stringify(p)} must be an absolute path to a profile file on the node`);
  return path.normalize(p);
}

/** berth's RuntimeDefault profile for a container holding `caps`, on `arch` (a Node arch name). */
export function defaultProfile(caps: readonly string[], arch: string = process.arch): OciSeccomp {
  const allow = new Set(BASE_ALLOW);
  for (const [cap, names] of Object.entries(CAP_ALLOW)) if (caps.includes(cap)) for (const n of names) allow.add(n);
  const sysAdmin = caps.includes('CAP_SYS_ADMIN');
  const rules: Rule[] = [{ names: [...allow].sort(), action: 'SCMP_ACT_ALLOW' }];
  // personality(2): only the harmless execution domains (no READ_IMPLIES_EXEC, no ADDR_NO_RANDOMIZE).
  for (const v of PERSONALITIES) rules.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }] });
  if (sysAdmin) rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW' });
  else {
    // clone(2) without namespace flags (s390 passes the flags second); clone3 passes them in
    // a struct seccomp cannot read, so it fails with ENOSYS and libc falls back to clone.
    const index = arch === 's390x' ? 1 : 0;
    rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] });
    rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', architectures: [...(ARCHES[arch] ?? [])], syscalls: rules };
}

/**
 * A profile file in Docker's format (what kubelets' Localhost profiles are) as OCI
 * linux.seccomp: `names` or `name`, `archMap` or `architectures`, and `includes`/`excludes`
 * by capability and architecture evaluated for this container.
 */
export function convertProfile(json: unknown, caps: readonly string[], arch: string = process.arch, file = 'profile'): OciSeccomp {
  const bad = (why: string) => invalid(`seccomp profile ${file}: ${why}`);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad('not a JSON object');
  const p = json as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string' || !p.defaultAction.startsWith('SCMP_ACT_')) throw bad('defaultAction must be an SCMP_ACT_* action');
  const native = ARCHES[arch] ?? [];
  let arches: string[] = [];
  if (Array.isArray(p.archMap)) {
    for (const m of p.archMap as Array<{ architecture?: string; subArchitectures?: string[] }>) {
      if (m && native.includes(m.architecture ?? '')) arches.push(m.architecture!, ...(m.subArchitectures ?? []));
    }
  } else if (Array.isArray(p.architectures)) arches = (p.architectures as unknown[]).map(String);
  const out: OciSeccomp = { defaultAction: p.defaultAction, ...(arches.length ? { architectures: [...new Set(arches)] } : {}) };
  if (typeof p.defaultErrnoRet === 'number') out.defaultErrnoRet = p.defaultErrnoRet;
  if (Array.isArray(p.flags)) out.flags = (p.flags as unknown[]).map(String);
  if (p.syscalls !== undefined && !Array.isArray(p.syscalls)) throw bad('syscalls must be a list');
  const applies = (f: unknown) => {
    const c = (f ?? {}) as { caps?: string[]; arches?: string[] };
    return { caps: c.caps ?? [], arches: c.arches ?? [] };
  };
  const archName = { x64: 'amd64', ia32: '386' }[arch] ?? arch;
  out.syscalls = [];
  for (const [i, s] of ((p.syscalls as Array<Record<string, unknown>> | undefined) ?? []).entries()) {
    if (!s || typeof s !== 'object') throw bad(`syscalls[${i}] is not an object`);
    const names = Array.isArray(s.names) ? (s.names as unknown[]).map(String) : typeof s.name === 'string' ? [s.name] : [];
    if (names.length === 0) throw bad(`syscalls[${i}] names no system call`);
    if (typeof s.action !== 'string' || !s.action.startsWith('SCMP_ACT_')) throw bad(`syscalls[${i}].action must be an SCMP_ACT_* action`);
    const inc = applies(s.includes);
    const exc = applies(s.excludes);
    if (inc.caps.some((c) => !caps.includes(c)) || (inc.arches.length && !inc.arches.includes(archName))) continue;
    if (exc.caps.some((c) => caps.includes(c)) || exc.arches.includes(archName)) continue;
    const rule: Rule = { names, action: s.action };
    if (typeof s.errnoRet === 'number') rule.errnoRet = s.errnoRet;
    if (Array.isArray(s.args) && s.args.length) rule.args = s.args as Arg[];
    out.syscalls.push(rule);
  }
  return out;
}

/** linux.seccomp for the container, or undefined for none (Unconfined, or privileged). */
export async function seccompFor(sc: LinuxContainerSecurityContext | undefined, caps: readonly string[], arch: string = process.arch): Promise<OciSeccomp | undefined> {
  const choice = seccompChoice(sc);
  if (sc?.privileged || choice.kind === 'unconfined') return undefined;
  if (choice.kind === 'runtime-default') return defaultProfile(caps, arch);
  let text: string;
  try {
    const st = await fs.stat(choice.file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_PROFILE) throw new Error(`larger than ${MAX_PROFILE} bytes`);
    text = await fs.readFile(choice.file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw precondition(`seccomp localhost profile ${choice.file} cannot be loaded: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the file, which may be any file on the node.
    throw invalid(`seccomp profile ${choice.file} is not valid JSON`);
  }
  return convertProfile(json, caps, arch, choice.file);
}
