// `npm run bench:critest`: critest's own benchmarks (cri-tools pkg/benchmark: pod, container
// and image lifecycles) against a fresh berthd, with critest's look-alike images in the local
// registry (as the conformance run has them). Prints p50/p90 per operation from the results
// files critest writes (-benchmarking-output-dir). Figures only: asserts nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startInstance } from '../test/helpers/instance.js';
import { registriesConf } from '../test/conformance/registries.js';
import { pct } from './workload.js';

interface ResultsSet {
  operationsNames: string[];
  numParallel: number;
  datapoints: Array<{ operationsDurationsNs: number[] }>;
}

const ms = (ns: number) => (ns / 1e6).toFixed(1);

const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'install-critest.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const critest = /^critest=(.*)$/m.exec(out)![1]!;
execFileSync('bash', [path.join(repoRoot, 'scripts', 'build-critest-images.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
const inst = await startInstance({ env: { CONTAINERS_REGISTRIES_CONF: registriesConf() } });
const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-critest-bench-'));
const n = Number(process.env.BENCH_N ?? 50);
const busybox = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
// Without a params file every benchmark skips itself; the default images are upstream's.
const params = path.join(dir, 'params.yaml');
writeFileSync(params, [
  `containersNumber: ${n}`, 'containersNumberParallel: 2', `podsNumber: ${n}`, 'podsNumberParallel: 2',
  `imagesNumber: ${Math.ceil(n / 5)}`, 'imagesNumberParallel: 2', `imagePullingBenchmarkImage: ${busybox}`,
  'imageListingBenchmarkImages:', `  - ${busybox}`, '  - registry.k8s.io/e2e-test-images/nginx:1.14-2', '  - registry.k8s.io/pause:3.9',
].join('\n'));
const images = path.join(dir, 'images.yaml');
writeFileSync(images, `defaultTestContainerImage: ${busybox}\nwebServerTestImage: registry.k8s.io/e2e-test-images/nginx:1.14-2\n`);
try {
  const r = spawnSync(critest, [
    `-runtime-endpoint=unix://${inst.socket}`, `-image-endpoint=unix://${inst.socket}`, '-benchmark', `-benchmarking-output-dir=${dir}`,
    `-benchmarking-params-file=${params}`, `-test-images-file=${images}`, '-ginkgo.no-color',
  ], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' }, encoding: 'utf8', maxBuffer: 64 << 20,
  });
  console.log(`critest -benchmark: exit ${r.status}`);
  if (r.status !== 0) console.log(r.stdout.split('\n').slice(-40).join('\n'));
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const set = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ResultsSet;
    const rows = set.operationsNames.map((name, i) => {
      const xs = set.datapoints.map((d) => d.operationsDurationsNs[i]!).filter((x) => x > 0);
      return `${name} p50 ${ms(pct(xs, 50))} ms, p90 ${ms(pct(xs, 90))} ms`;
    });
    console.log(`${f} (${set.datapoints.length} samples, ${set.numParallel} in parallel): ${rows.join('; ')}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await inst.cleanup();
}
