// Running one CNI plugin binary per the spec: the CNI_* environment, the config on stdin,
// a result or an error object on stdout, and a time limit after which it is killed.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { BerthError, deadline, type ErrorKind, precondition } from '../errors.js';
import { run } from '../oci/exec-file.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';

/**
 * A plugin's own error (spec "Error" object): its code, message and details kept as
 * they were, so the kubelet's event says what the plugin said.
 */
export class CniPluginError extends BerthError {
  constructor(
    kind: ErrorKind,
    message: string,
    readonly plugin: string,
    readonly code?: number,
    readonly msg?: string,
    readonly details?: string,
  ) {
    super(kind, message);
  }
}

/**
 * The gRPC kind for a spec error code: 11 ("try again later") and 50/51 (STATUS: not
 * available / limited connectivity) are Unavailable; codes that blame the config or the
 * runtime's request (1 incompatible version, 2 unsupported field, 4 bad env, 6 decode,
 * 7 invalid network config) are FailedPrecondition; everything else is Internal.
 */
export function kindForCode(code: number | undefined): ErrorKind {
  if (code === 11 || code === 50 || code === 51) return 'Unavailable';
  if (code !== undefined && [1, 2, 4, 6, 7].includes(code)) return 'FailedPrecondition';
  return 'Internal';
}

/** The plugin binary for `type`: the first plugin dir that has it (as libcni's FindInPath). */
export function findPlugin(type: string, dirs: string[]): string {
  if (!type || type.includes('/') || type === '.' || type === '..') throw precondition(`CNI plugin type ${JSON.stringify(type)} is not a plain name`);
  for (const d of dirs) {
    const p = path.join(d, type);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  throw precondition(`CNI plugin ${type} not found in ${dirs.join(':')}`);
}

export interface ExecRequest {
  command: CniCommand;
  bin: string;
  stdin: unknown;
  pluginDirs: string[];
  timeoutMs: number;
  /** ADD/DEL/CHECK only. */
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: Array<[string, string]>;
  /** For messages: "ADD bridge for pod 0123abcd…". */
  what: string;
}

/** Runs the plugin; resolves to its parsed stdout (undefined when empty) or throws its error. */
export async function execPlugin(req: ExecRequest): Promise<unknown> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: req.command,
    CNI_PATH: req.pluginDirs.join(':'),
  };
  if (req.containerId !== undefined) env.CNI_CONTAINERID = req.containerId;
  if (req.netns !== undefined) env.CNI_NETNS = req.netns;
  if (req.ifName !== undefined) env.CNI_IFNAME = req.ifName;
  if (req.args?.length) env.CNI_ARGS = req.args.map(([k, v]) => `${k}=${v}`).join(';');
  const type = path.basename(req.bin);
  const r = await run(req.bin, [], { input: JSON.stringify(req.stdin), env, timeoutMs: req.timeoutMs, maxOutput: 1024 * 1024 });
  if (r.timedOut) throw deadline(`CNI ${req.what}: plugin ${type} did not answer within ${req.timeoutMs} ms and was killed`);
  const out = r.stdout.toString().trim();
  if (r.code !== 0) {
    let e: { code?: number; msg?: string; details?: string } | undefined;
    try {
      e = JSON.parse(out) as typeof e;
    } catch {
      /* not a spec error object: report what it printed */
    }
    if (e && typeof e === 'object' && (e.code !== undefined || e.msg)) {
      const detail = `code ${e.code}: ${e.msg ?? ''}${e.details ? ` (${e.details})` : ''}`;
      throw new CniPluginError(kindForCode(e.code), `CNI ${req.what}: plugin ${type} failed: ${detail}`, type, e.code, e.msg, e.details);
    }
    const text = (out || r.stderr.toString().trim() || `exit status ${r.code}`).slice(0, 2000);
    throw new CniPluginError('Internal', `CNI ${req.what}: plugin ${type} failed: ${text}`, type);
  }
  if (!out) return undefined;
  try {
    return JSON.parse(out) as unknown;
  } catch {
    throw new CniPluginError('Internal', `CNI ${req.what}: plugin ${type} printed something that is not JSON: ${out.slice(0, 200)}`, type);
  }
}
