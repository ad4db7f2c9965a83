// `npm run bench:pull` (scripts/bench.sh pull): pull + unpack of a large image built from
// real files (scripts/build-bench-image.sh: the machine's shared libraries in 5 layers,
// ~254 MB gzip, ~650 MB unpacked) from the loopback registry into a fresh berthd.
// Prints the time, MB/s (compressed and unpacked), and berthd's RSS before and at its
// peak (VmHWM). BENCH_N pulls (the image and its layers removed in between);
// BENCH_CONCURRENCY sets max_concurrent_downloads. With BENCH_PEERS=1 it also times
// containers/image + containers/storage (`skopeo copy` into an overlay store of its own
// under a temp dir) on the same image, and prints the ratio. Figures only: asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startInstance } from '../test/helpers/instance.js';
import { statusKb } from './workload.js';

const image = execFileSync('bash', [path.join(repoRoot, 'scripts', 'build-bench-image.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  .trim()
  .split('\n')
  .pop()!;
const n = Number(process.env.BENCH_N ?? 3);
const concurrency = process.env.BENCH_CONCURRENCY;
const status = (pid: number, key: string) => statusKb(pid, key) / 1024;
/** CPU seconds (user + system) of a process, or of one of its threads. */
const cpu = (stat: string) => {
  const f = readFileSync(stat, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${image}`], { encoding: 'utf8' })) as { layers: Array<{ size: number }> };
const gz = manifest.layers.reduce((a, l) => a + l.size, 0);

const inst = await startInstance({ toml: concurrency ? `max_concurrent_downloads = ${concurrency}` : '', env: process.env.BENCH_ENV ? Object.fromEntries([process.env.BENCH_ENV.split('=') as [string, string]]) : undefined });
try {
  const pid = inst.proc.pid!;
  const rssBefore = status(pid, 'VmRSS');
  const anonBefore = status(pid, 'RssAnon');
  let anonPeak = anonBefore;
  const times: number[] = [];
  const cpuAll: number[] = [];
  const cpuMain: number[] = [];
  let unpacked = 0;
  for (let i = 0; i < n; i++) {
    execFileSync('sync');
    const [all0, main0] = [cpu(`/proc/${pid}/stat`), cpu(`/proc/${pid}/task/${pid}/stat`)];
    const sampler = setInterval(() => {
      anonPeak = Math.max(anonPeak, status(pid, 'RssAnon'));
    }, 100);
    const t0 = process.hrtime.bigint();
    const { imageRef } = await inst.img.pullImage({ image: { image } }, 600_000);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    clearInterval(sampler);
    // Exited worker threads' time is counted in the process's (task stats are cumulative).
    cpuAll.push(cpu(`/proc/${pid}/stat`) - all0);
    cpuMain.push(cpu(`/proc/${pid}/task/${pid}/stat`) - main0);
    unpacked = Number(execFileSync('du', ['-sb', path.join(inst.root, 'layers')], { encoding: 'utf8' }).split('\t')[0]);
    await inst.img.removeImage({ image: { image: imageRef } });
  }
  const best = Math.min(...times);
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(`image: ${image}, ${manifest.layers.length} layers, ${(gz / 1e6).toFixed(0)} MB compressed, ${(unpacked / 1e6).toFixed(0)} MB unpacked`);
  console.log(`berth pull+unpack (max_concurrent_downloads ${concurrency ?? 'default'}): runs ${times.map((t) => t.toFixed(2)).join(' ')} s`);
  console.log(`berth: median ${median.toFixed(2)} s, best ${best.toFixed(2)} s = ${(gz / 1e6 / median).toFixed(0)} MB/s compressed, ${(unpacked / 1e6 / median).toFixed(0)} MB/s unpacked (median)`);
  console.log(`berthd CPU per pull: ${cpuAll.map((c) => c.toFixed(2)).join(' ')} s in all, of which the event loop thread ${cpuMain.map((c) => c.toFixed(2)).join(' ')} s`);
  console.log(`berthd RSS: ${rssBefore.toFixed(0)} MiB before, peak ${status(pid, 'VmHWM').toFixed(0)} MiB (VmHWM); anonymous memory ${anonBefore.toFixed(0)} MiB before, peak ${anonPeak.toFixed(0)} MiB (sampled every 100 ms)`);
  if (process.env.BENCH_PEERS) skopeoPeer(median);
} finally {
  await inst.cleanup();
}

/** skopeo copy into containers-storage (CRI-O's pull path), BENCH_N times, each into a fresh store. */
function skopeoPeer(berthMedian: number): void {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-cs-'));
    try {
      execFileSync('sync');
      const t0 = process.hrtime.bigint();
      execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${image}`, `containers-storage:[overlay@${dir}/root+${dir}/run]bench/large:v1`], { stdio: 'inherit' });
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    } finally {
      // containers-storage leaves a private bind mount of its overlay dir: ours, under dir.
      for (const line of readFileSync('/proc/mounts', 'utf8').split('\n').reverse()) {
        const target = line.split(' ')[1];
        if (target?.startsWith(`${dir}/`)) execFileSync('umount', [target]);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(`skopeo copy -> containers-storage (overlay): runs ${times.map((t) => t.toFixed(2)).join(' ')} s, median ${median.toFixed(2)} s; berth is ${(median / berthMedian).toFixed(2)}x faster`);
}
