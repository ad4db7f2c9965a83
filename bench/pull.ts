// `npm run bench:pull` (scripts/bench.sh pull): pull + unpack of a large image built from
// real files (scripts/build-bench-image.sh: the machine's shared libraries in 5 layers,
// ~254 MB gzip, ~720 MB unpacked) from the loopback registry, in one run:
//  - berth: into a fresh berthd, BENCH_N pulls (the image and its layers removed in between);
//    the time, MB/s (compressed and unpacked), berthd's CPU time and its RSS before and at its
//    peak (VmHWM). BENCH_CONCURRENCY sets max_concurrent_downloads.
//  - the peers, the same image from the same registry over plain HTTP, BENCH_N times each,
//    each from a cold store:
//    containerd 1.6 (Debian's): `ctr images pull --plain-http --snapshotter overlayfs` into a
//    private containerd (bench/containerd.ts, CRI plugin off) started with a fresh root for
//    every pull, timed from the command to its exit, i.e. fetch and then unpack into the
//    overlayfs snapshotter (the bench checks that one committed snapshot per layer is there);
//    containers/image + containers/storage: `skopeo copy` into an overlay store of its own
//    under a fresh temp dir (CRI-O's pull path).
//    BENCH_PEERS picks them: unset or `1` = both, `0` = none (berth alone), or a comma list
//    (`containerd`, `skopeo`); BENCH_CONTAINERD=0 (the pod bench's switch) drops containerd too.
// Prints each one's runs, median and best, the ratios (peer median / berth median: how many
// times faster berth is) and a summary against the issue's targets. Figures only: asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startInstance } from '../test/helpers/instance.js';
import { startContainerd } from './containerd.js';
import { fx, mb, statusKb, verdict } from './workload.js';

const PEER_NAMES = ['containerd', 'skopeo'] as const;
type Peer = (typeof PEER_NAMES)[number];

/** BENCH_PEERS: unset or 1/all = every peer, 0/none/empty = none, else a comma list of names. */
function peersWanted(): Set<Peer> {
  const v = process.env.BENCH_PEERS?.trim().toLowerCase();
  let out: Set<Peer>;
  if (v === undefined || v === '1' || v === 'all') out = new Set(PEER_NAMES);
  else if (v === '' || v === '0' || v === 'none') out = new Set();
  else {
    const names = v.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = names.filter((x) => !(PEER_NAMES as readonly string[]).includes(x));
    if (bad.length) throw new Error(`BENCH_PEERS: unknown peer ${bad.join(', ')} (known: ${PEER_NAMES.join(', ')}; 0 for none)`);
    out = new Set(names as Peer[]);
  }
  if (process.env.BENCH_CONTAINERD === '0') out.delete('containerd');
  return out;
}

let peers: Set<Peer>;
try {
  peers = peersWanted();
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
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
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (xs: number[]) => xs.map((t) => t.toFixed(2)).join(' ');
const duBytes = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
/** Seconds in a Go duration as ctr prints it ("638.1ms", "2.5s", "1m2.5s"). */
function goDuration(s: string): number {
  let total = 0;
  for (const [, v, unit] of s.matchAll(/([\d.]+)(h|m(?!s)|s|ms|µs|us|ns)/g)) total += Number(v) * { h: 3600, m: 60, s: 1, ms: 1e-3, µs: 1e-6, us: 1e-6, ns: 1e-9 }[unit!]!;
  return total;
}

const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${image}`], { encoding: 'utf8' })) as { layers: Array<{ size: number }> };
const gz = manifest.layers.reduce((a, l) => a + l.size, 0);

interface Timed {
  times: number[];
  median: number;
  best: number;
}
const timed = (times: number[]): Timed => ({ times, median: median(times), best: Math.min(...times) });

async function berth(): Promise<Timed> {
  const inst = await startInstance({ logLevel: 'info', toml: concurrency ? `max_concurrent_downloads = ${concurrency}` : '', env: process.env.BENCH_ENV ? Object.fromEntries([process.env.BENCH_ENV.split('=') as [string, string]]) : undefined });
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
      unpacked = duBytes(path.join(inst.root, 'layers'));
      await inst.img.removeImage({ image: { image: imageRef } });
    }
    const t = timed(times);
    console.log(`image: ${image}, ${manifest.layers.length} layers, ${(gz / 1e6).toFixed(0)} MB compressed, ${(unpacked / 1e6).toFixed(0)} MB unpacked`);
    console.log(`berth pull+unpack (max_concurrent_downloads ${concurrency ?? 'default'}): runs ${secs(times)} s`);
    console.log(`berth: median ${t.median.toFixed(2)} s, best ${t.best.toFixed(2)} s = ${(gz / 1e6 / t.median).toFixed(0)} MB/s compressed, ${(unpacked / 1e6 / t.median).toFixed(0)} MB/s unpacked (median)`);
    console.log(`berthd CPU per pull: ${secs(cpuAll)} s in all, of which the event loop thread ${secs(cpuMain)} s`);
    console.log(`berthd RSS: ${rssBefore.toFixed(0)} MiB before, peak ${status(pid, 'VmHWM').toFixed(0)} MiB (VmHWM); anonymous memory ${anonBefore.toFixed(0)} MiB before, peak ${anonPeak.toFixed(0)} MiB (sampled every 100 ms)`);
    return t;
  } finally {
    await inst.cleanup();
  }
}

/** The namespace the bench's images live in, in each private containerd. */
const NS = 'berth-bench';

/**
 * `ctr images pull` + unpack into the overlayfs snapshotter, BENCH_N times, each into a containerd
 * started afresh on a new root (cold content store, metadata and snapshots) and removed after.
 */
async function containerdPeer(): Promise<Timed> {
  const times: number[] = [];
  const unpackTimes: number[] = [];
  const rssPeak: number[] = [];
  let version = '?';
  let unpacked = 0;
  for (let i = 0; i < n; i++) {
    const c = await startContainerd();
    version = c.version;
    let left: string[] = [];
    try {
      execFileSync('sync');
      const t0 = process.hrtime.bigint();
      // ctr fetches every blob into the content store, then unpacks the layers one after another
      // into snapshots ("unpacking linux/amd64 sha256:…", then "done: <unpack time>").
      const out = execFileSync('ctr', ['--address', c.socket, '-n', NS, 'images', 'pull', '--plain-http', '--snapshotter', 'overlayfs', image], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 << 20,
      });
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      rssPeak.push(statusKb(c.proc.pid!, 'VmHWM'));
      const done = /^done: (\S+)/m.exec(out);
      if (!/^unpacking /m.test(out) || !done) throw new Error(`ctr images pull did not report an unpack; its output ends:\n${out.trim().split('\n').slice(-4).join('\n')}`);
      unpackTimes.push(goDuration(done[1]!));
      // The unpack must really be there: one committed snapshot per layer.
      const committed = c
        .ctr(['-n', NS, 'snapshots', '--snapshotter', 'overlayfs', 'ls'])
        .split('\n')
        .filter((l) => /\sCommitted\s*$/.test(l)).length;
      if (committed !== manifest.layers.length) throw new Error(`after ctr images pull, ${committed} committed overlayfs snapshots, not ${manifest.layers.length}`);
      unpacked = duBytes(path.join(c.dir, 'root', 'io.containerd.snapshotter.v1.overlayfs', 'snapshots'));
    } finally {
      left = await c.cleanup();
    }
    if (left.length) console.log(`containerd LEAKS (swept):\n${left.join('\n')}`);
  }
  const t = timed(times);
  const fetch = times.map((x, i) => x - unpackTimes[i]!);
  console.log(`containerd ${version} \`ctr images pull\` + unpack (overlayfs, ${(unpacked / 1e6).toFixed(0)} MB in snapshots): runs ${secs(times)} s (fetch ${secs(fetch)} s, then unpack ${secs(unpackTimes)} s)`);
  console.log(`containerd: median ${t.median.toFixed(2)} s, best ${t.best.toFixed(2)} s; containerd RSS peak ${mb(median(rssPeak))} (VmHWM, median)`);
  return t;
}

/** skopeo copy into containers-storage (CRI-O's pull path), BENCH_N times, each into a fresh store. */
function skopeoPeer(): Timed {
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
  const t = timed(times);
  console.log(`skopeo copy -> containers-storage (overlay): runs ${secs(times)} s`);
  console.log(`skopeo: median ${t.median.toFixed(2)} s, best ${t.best.toFixed(2)} s`);
  return t;
}

async function main(): Promise<void> {
  console.log(
    `pull bench: ${n} pulls each of berth${[...peers].map((p) => `, ${p}`).join('')}; load average at start ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} on ${os.cpus().length} cores`,
  );
  const b = await berth();
  const fig: Partial<Record<Peer, Timed>> = {};
  const run: Record<Peer, () => Promise<Timed> | Timed> = { containerd: containerdPeer, skopeo: skopeoPeer };
  for (const p of PEER_NAMES) {
    if (!peers.has(p)) continue;
    try {
      fig[p] = await run[p]();
    } catch (e) {
      console.log(`${p}: not measured: ${String((e as Error)?.message ?? e).trim().split('\n').slice(0, 8).join('\n')}`);
    }
  }
  // Speed ratios: peer time / berth time, how many times faster berth is (issue 20: ≥ 2.4× both).
  for (const p of PEER_NAMES) {
    const t = fig[p];
    if (t) console.log(`berth vs ${p}: ${fx(t.median / b.median)} faster (medians), ${fx(t.best / b.best)} (bests)`);
  }
  const rows = [`berth pull+unpack median: ${b.median.toFixed(2)} s (target ≤ 3.0 s: ${verdict(b.median <= 3.0)})`];
  for (const p of PEER_NAMES) {
    if (!peers.has(p)) continue;
    const t = fig[p];
    const label = `pull+unpack speed berth/${p} (median ${p} ÷ median berth)`;
    rows.push(t ? `${label}: ${fx(t.median / b.median)} (target ≥ 2.4×: ${verdict(t.median / b.median >= 2.4)})` : `${label}: n/a`);
  }
  console.log(`summary (pull, ${(gz / 1e6).toFixed(0)} MB gzip, median of ${n}):\n  ${rows.join('\n  ')}`);
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
