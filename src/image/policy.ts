// Signature policy in the containers-policy.json(5) format: a `default` requirement
// list, and per-transport scopes (only `docker` applies to berth's pulls). Supported
// requirements: `insecureAcceptAnything` and `reject`. `signedBy` and `sigstoreSigned`
// need signature verification, which berth does not do yet: such a scope refuses the
// image with a message saying so (failing closed, never silently accepting).
import { readFileSync } from 'node:fs';
import { invalid, precondition } from '../errors.js';

type Requirement = { type: string };

interface PolicyDoc {
  default?: Requirement[];
  transports?: Record<string, Record<string, Requirement[]>>;
}

export class Policy {
  private constructor(
    private readonly doc: PolicyDoc,
    readonly file: string,
  ) {}

  /** Loads `file`; a missing file accepts everything (as no policy configured). */
  static load(file: string | undefined): Policy {
    if (!file) return new Policy({ default: [{ type: 'insecureAcceptAnything' }] }, '(none)');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Policy({ default: [{ type: 'insecureAcceptAnything' }] }, '(none)');
      throw e;
    }
    return Policy.parse(text, file);
  }

  static parse(text: string, file = 'policy.json'): Policy {
    let doc: PolicyDoc;
    try {
      doc = JSON.parse(text) as PolicyDoc;
    } catch (e) {
      throw invalid(`signature policy ${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(doc.default)) throw invalid(`signature policy ${file}: "default" must be a list of requirements`);
    return new Policy(doc, file);
  }

  /**
   * The requirements for `ref` (host[:port]/repo[:tag|@digest]): the most specific
   * docker scope — the full reference, the repository, each parent namespace up to the
   * host, then `*.domain` wildcards — else the transport's "" scope, else `default`.
   */
  requirements(ref: string, repository: string): { scope: string; reqs: Requirement[] } {
    const scopes = this.doc.transports?.docker ?? {};
    const candidates = [ref];
    const parts = repository.split('/');
    for (let i = parts.length; i >= 1; i--) candidates.push(parts.slice(0, i).join('/'));
    const host = parts[0]!.replace(/:\d+$/, '');
    const labels = host.split('.');
    for (let i = 1; i < labels.length; i++) candidates.push(`*.${labels.slice(i).join('.')}`);
    for (const c of candidates) if (scopes[c]) return { scope: `docker:${c}`, reqs: scopes[c] };
    if (scopes['']) return { scope: 'docker:""', reqs: scopes[''] };
    return { scope: 'default', reqs: this.doc.default ?? [] };
  }

  /** Throws FailedPrecondition unless the policy admits `ref`. */
  check(ref: string, repository: string): void {
    const { scope, reqs } = this.requirements(ref, repository);
    if (reqs.length === 0) throw precondition(`image ${ref}: signature policy ${this.file} (${scope}) lists no requirement, which rejects it`);
    for (const r of reqs) {
      if (r.type === 'insecureAcceptAnything') continue;
      if (r.type === 'reject') throw precondition(`image ${ref}: rejected by signature policy ${this.file} (${scope})`);
      throw precondition(`image ${ref}: signature policy ${this.file} (${scope}) requires ${r.type}, and berth does not verify signatures yet`);
    }
  }
}
