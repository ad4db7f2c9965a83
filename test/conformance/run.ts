// The CRI validation suite (critest) against a fresh berthd: installs critest if missing,
// starts the local registry and a berthd on a temporary root (mirroring registry.k8s.io,
// gcr.io and k8s.gcr.io to the local registry), runs critest with a JUnit report, and
// prints `critest: N passed, N failed, N skipped`. Specs on the skip list (skips.ts) are
// skipped with their reason; any other failure fails the run. BERTH_CONFORMANCE_ALL=1
// runs the skipped specs too and names those that pass now (so the list gets shorter).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startInstance } from '../helpers/instance.js';
import { registriesConf } from './registries.js';
import { activeSkips, escapeRegex } from './skips.js';
import { type Case, parseJunit } from '../helpers/junit.js';

const version = process.env.CRITEST_VERSION ?? 'v1.37.0';

function critestBinary(): string {
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'install-critest.sh'), version], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = out.split('\n').find((l) => l.startsWith('critest='));
  if (!bin) throw new Error(`install-critest.sh printed no critest path:\n${out}`);
  return bin.slice('critest='.length).trim();
}

async function main(): Promise<number> {
  const bin = critestBinary();
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'registry.sh'), 'start'], { stdio: 'inherit' });
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'build-critest-images.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const skips = activeSkips();
  const runAll = process.env.BERTH_CONFORMANCE_ALL === '1';
  const inst = await startInstance({ env: { CONTAINERS_REGISTRIES_CONF: registriesConf() } });
  // Kept after the run (the instance dir is not): CRITEST_REPORT, else the temp dir.
  const report = process.env.CRITEST_REPORT ?? path.join(os.tmpdir(), `berth-critest-${version}.xml`);
  const parallel = Number(process.env.CRITEST_PARALLEL ?? '1');
  let code = 0;
  try {
    const base = [
      `-runtime-endpoint=unix://${inst.socket}`, `-image-endpoint=unix://${inst.socket}`,
      // -parallel N>1 re-runs critest under the ginkgo CLI; naming it at all (even =1) trips Ginkgo's go-test check.
      ...(parallel > 1 ? [`-parallel=${parallel}`] : []), '-ginkgo.no-color', '-ginkgo.timeout=40m',
      ...(skips.length && !runAll ? [`-ginkgo.skip=${skips.map((s) => escapeRegex(s.spec)).join('|')}`] : []),
    ];
    const started = Date.now();
    const focus = process.env.CRITEST_FOCUS;
    let rc = await runCritest(bin, [...base, `-ginkgo.junit-report=${report}`, ...(focus ? [`-ginkgo.focus=${focus}`] : [])]);
    const cases = parseJunit(readFileSync(report, 'utf8'));
    // The streaming specs once more over WebSocket (crictl's default transport since 1.36),
    // unless BERTH_CONFORMANCE_WEBSOCKET=0 or the focus leaves out every streaming spec.
    const streamingRan = cases.some((c) => c.name.includes('Streaming') && c.status !== 'skipped');
    if (process.env.BERTH_CONFORMANCE_WEBSOCKET !== '0' && streamingRan) {
      const wsReport = report.replace(/(\.xml)?$/, '-websocket.xml');
      const wsRc = await runCritest(bin, [...base, `-ginkgo.junit-report=${wsReport}`, `-ginkgo.focus=${focus ?? 'Streaming'}`,
        '-websocket-exec', '-websocket-attach', '-websocket-portforward']);
      rc ||= wsRc;
      for (const c of parseJunit(readFileSync(wsReport, 'utf8'))) if (c.name.includes('Streaming')) cases.push({ ...c, name: `${c.name} [websocket]` });
    }
    const skipOf = (name: string) => skips.find((s) => name.includes(s.spec));
    const unexpected = cases.filter((c) => c.status === 'failed' && !skipOf(c.name));
    const passing = cases.filter((c) => c.status === 'passed' && skipOf(c.name));
    const count = (s: Case['status']) => cases.filter((c) => c.status === s).length;
    for (const c of unexpected) console.log(`FAILED  ${c.name}\n        ${c.message}`);
    for (const c of passing) console.log(`PASSES NOW (take it off the skip list): ${c.name}`);
    const byKind = new Map<string, number>();
    for (const c of cases.filter((x) => x.status !== 'passed')) {
      const s = skipOf(c.name);
      if (s) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
    }
    console.log(
      `critest ${version}: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped ` +
        `(skip list: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}) in ${Math.round((Date.now() - started) / 1000)} s`,
    );
    if (unexpected.length) code = 1;
    else if (rc !== 0 && !runAll && count('failed') === 0) code = rc; // critest itself broke
  } finally {
    await inst.cleanup();
  }
  return code;
}

function runCritest(bin: string, args: string[]): Promise<number> {
  return new Promise<number>((resolve) => {
    // -parallel runs the ginkgo CLI that install-critest.sh puts beside critest.
    const env = { ...process.env, CRI_CONFIG_FILE: '/dev/null', PATH: `${path.dirname(bin)}:${process.env.PATH ?? ''}` };
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    p.stdout.on('data', (d: Buffer) => process.stderr.write(d));
    p.on('exit', (c) => resolve(c ?? 1));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
