// The Kubernetes node e2e suite ([NodeConformance]) against a fresh berthd, with a real
// kubelet (npm run test:node-e2e). Builds the suite and the kubelet (cached outside the
// repo), pushes the look-alike images, then runs inside.ts under
// `unshare --net --mount --pid`, so that the run's network, mounts and processes die with
// it. Afterwards it removes the kubelet's cgroups (/kubepods, and the run's own one with
// the system containers) and prints
//   node-e2e <version>: N passed, N failed of N run (JUnit: <path>)
// Controls: NODE_E2E_VERSION (v1.37.2 | v1.36.3), NODE_E2E_SUBSET=1 (CI's fast subset),
// NODE_E2E_FOCUS (a regex), NODE_E2E_RERUN=<junit.xml> (that report's failed specs),
// NODE_E2E_PROCS (6), NODE_E2E_KEEP=1 (keep the work dir with the kubelet's log),
// NODE_E2E_DRY_RUN=1, BERTH_NODE_E2E_ALL=1 (run the skip list too).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/instance.js';
import { parseJunit } from '../helpers/junit.js';
import { escapeRegex } from '../conformance/skips.js';
import { native } from '../../src/native/index.js';
import { kubeletDirs } from './dirs.js';
import { activeSkips } from './skips.js';
import { subsetFocus, subsetSkip } from './subset.js';
import { sweepStale } from './stale.js';

const version = process.env.NODE_E2E_VERSION ?? 'v1.37.2';

function install(): Record<string, string> {
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'install-node-e2e.sh'), version], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
}

function images(agnhost: string): void {
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'registry.sh'), 'start'], { stdio: 'inherit' });
  const src = execFileSync('bash', ['-c', `GOMODCACHE=\${BERTH_CACHE:-/var/cache/berth}/go/pkg/mod; echo "$GOMODCACHE/k8s.io/kubernetes@${version}"`], { encoding: 'utf8' }).trim();
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'build-node-e2e-images.sh')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, AGNHOST: agnhost, K8S_SRC: src },
  });
}

/**
 * A regex for a skip-list entry that also matches when tags sit between its words: v1.36
 * names a spec "[sig-node] PrivilegedPod [NodeConformance] should enable …", v1.37 puts
 * the tags at the end.
 */
function specPattern(spec: string): string {
  return spec.split(' ').map(escapeRegex).join(' (?:\\[[^\\]]*\\] )*');
}

/**
 * A focus on the specs a JUnit report lists as failed. The report names a spec
 * "[It] <full text> [<labels>]"; ginkgo's focus matches the full text.
 */
function rerunFocus(report: string): string {
  const failed = parseJunit(readFileSync(report, 'utf8')).filter((c) => c.status === 'failed');
  if (!failed.length) throw new Error(`node-e2e: ${report} lists no failed spec`);
  return failed.map((c) => escapeRegex(c.name.replace(/^\[It\] /, '').replace(/ \[[^\]]*\]$/, ''))).join('|');
}

async function main(): Promise<number> {
  const bins = install();
  const bin = path.dirname(bins['e2e_node.test']!);
  images(bins.agnhost!);
  // The kubelet puts pods under /kubepods (the specs look there): one run per host. An
  // interrupted run's empty leftovers are swept first.
  for (const r of sweepStale('/var/tmp', 'berth-node-e2e-')) console.log(`node-e2e: removed ${r}, left by an interrupted run`);
  const madeDirs = kubeletDirs.filter((d) => !existsSync(d));
  for (const d of madeDirs) mkdirSync(d, { recursive: true });
  const work = mkdtempSync(path.join('/var/tmp', 'berth-node-e2e-'));
  const cgroupRoot = `/${path.basename(work)}`;
  const junit = process.env.NODE_E2E_JUNIT ?? path.join(os.tmpdir(), `berth-node-e2e-${version}${process.env.NODE_E2E_SUBSET === '1' ? '-subset' : ''}.xml`);
  rmSync(junit, { force: true });
  const result = path.join(work, 'result');
  const skips = activeSkips();
  const runAll = process.env.BERTH_NODE_E2E_ALL === '1';
  const focus = process.env.NODE_E2E_RERUN ? rerunFocus(process.env.NODE_E2E_RERUN)
    : process.env.NODE_E2E_FOCUS ?? (process.env.NODE_E2E_SUBSET === '1' ? subsetFocus : '\\[NodeConformance\\]');
  const skip = ['\\[Flaky\\]', '\\[Slow\\]', '\\[Serial\\]', ...(runAll ? [] : skips.map((s) => specPattern(s.spec))),
    ...(process.env.NODE_E2E_SUBSET === '1' && !process.env.NODE_E2E_FOCUS ? subsetSkip : [])].join('|');
  const started = Date.now();
  let code = 0;
  try {
    const innerRc = await new Promise<number>((resolve) => {
      const p = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc',
        process.execPath, path.join(repoRoot, 'dist', 'test', 'node-e2e', 'inside.js')], {
        stdio: 'inherit',
        env: { ...process.env, NODE_E2E_WORK: work, NODE_E2E_CGROUP_ROOT: cgroupRoot, NODE_E2E_BIN: bin, NODE_E2E_FOCUS: focus, NODE_E2E_SKIP: skip, NODE_E2E_JUNIT: junit, NODE_E2E_RESULT: result },
      });
      p.on('exit', (c) => resolve(c ?? 1));
    });
    const rc = existsSync(result) ? Number(readFileSync(result, 'utf8')) : innerRc || 1;
    if (!existsSync(junit)) {
      console.log(`node-e2e ${version}: the suite wrote no report (exit ${rc}); see the output above`);
      return 1;
    }
    const cases = parseJunit(readFileSync(junit, 'utf8'));
    const ran = cases.filter((c) => c.status !== 'skipped');
    const failed = ran.filter((c) => c.status === 'failed');
    const skipOf = (name: string) => skips.find((s) => new RegExp(specPattern(s.spec)).test(name));
    for (const c of failed) console.log(`FAILED  ${c.name}${skipOf(c.name) ? ' (on the skip list)' : ''}\n        ${c.message}`);
    for (const c of ran.filter((x) => x.status === 'passed' && skipOf(x.name))) console.log(`PASSES NOW (take it off the skip list): ${c.name}`);
    console.log(`node-e2e ${version}: ${ran.length - failed.length} passed, ${failed.length} failed of ${ran.length} run ` +
      `(skip list: ${skips.length} entries) in ${Math.round((Date.now() - started) / 1000)} s; JUnit: ${junit}`);
    if (failed.some((c) => !skipOf(c.name))) code = 1;
    else if (rc !== 0 && !runAll && failed.length === 0) code = rc; // the suite itself broke (BeforeSuite)
  } finally {
    // The kubelet's pod cgroups and the node's system containers, empty now.
    for (const cg of ['/kubepods', cgroupRoot]) {
      try {
        native.cgroupRemove(cg);
      } catch (e) {
        console.error(`node-e2e: could not remove cgroup ${cg}: ${(e as Error).message}`);
        code ||= 1;
      }
    }
    for (const d of madeDirs.reverse()) {
      try {
        if (statSync(d).isDirectory() && readdirSync(d).length === 0) rmdirSync(d);
      } catch {
        /* gone */
      }
    }
    if (process.env.NODE_E2E_KEEP === '1') console.log(`node-e2e: work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
