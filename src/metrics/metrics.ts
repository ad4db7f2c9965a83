// Prometheus metrics (prom-client) on an opt-in HTTP address (`metrics_address`, off by
// default): per-RPC latency and errors by gRPC code, image pulls, pods and containers by
// state, OOM-killed containers, live monitors, and berthd's own process metrics.
// Gauges are read from the stores when scraped, so nothing is counted twice or drifts.
import { status as grpcStatus } from '@grpc/grpc-js';
import http from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CriContext } from '../cri/context.js';
import type { RpcObserver } from '../cri/server.js';
import { invalid } from '../errors.js';
import type { Logger } from '../log.js';
import { cmdlineIncludes } from '../util/procfs.js';

export interface Metrics {
  observe: RpcObserver;
  registry: Registry;
}

export function createMetrics(ctx: CriContext): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'berth_' });
  const latency = new Histogram({
    name: 'berth_grpc_request_duration_seconds', help: 'CRI RPC latency by method and gRPC code', labelNames: ['method', 'code'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
  });
  const errors = new Counter({ name: 'berth_grpc_errors_total', help: 'CRI RPCs that failed, by method and gRPC code', labelNames: ['method', 'code'], registers: [registry] });
  const pulls = new Counter({ name: 'berth_image_pulls_total', help: 'PullImage calls by result', labelNames: ['result'], registers: [registry] });
  const pullBytes = new Counter({ name: 'berth_image_pull_bytes_total', help: 'Size of the images pulled (compressed layers plus config)', registers: [registry] });
  const pullSeconds = new Histogram({
    name: 'berth_image_pull_duration_seconds', help: 'PullImage duration', buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers: [registry],
  });
  new Gauge({
    name: 'berth_pods', help: 'Pod sandboxes by state', labelNames: ['state'], registers: [registry],
    collect() {
      this.reset();
      for (const s of ['creating', 'ready', 'notready']) this.set({ state: s }, ctx.podStore.list().filter((p) => p.state === s).length);
    },
  });
  new Gauge({
    name: 'berth_containers', help: 'Containers by state', labelNames: ['state'], registers: [registry],
    collect() {
      this.reset();
      for (const s of ['created', 'running', 'exited']) this.set({ state: s }, ctx.containerStore.list().filter((c) => c.state === s).length);
    },
  });
  new Gauge({
    name: 'berth_containers_oom_killed', help: 'Containers whose last exit was an OOM kill', registers: [registry],
    collect() {
      this.set(ctx.containerStore.list().filter((c) => c.reason === 'OOMKilled').length);
    },
  });
  new Gauge({
    name: 'berth_monitors_alive', help: 'berth-monitor processes alive (one per container not yet exited)', registers: [registry],
    collect() {
      this.set(ctx.containerStore.list().filter((c) => c.monitorPid && cmdlineIncludes(c.monitorPid, c.id)).length);
    },
  });
  const observe: RpcObserver = (method, code, seconds, req) => {
    const c = grpcStatus[code] ?? String(code);
    latency.observe({ method, code: c }, seconds);
    if (code !== grpcStatus.OK) errors.inc({ method, code: c });
    if (method !== 'PullImage') return;
    pulls.inc({ result: code === grpcStatus.OK ? 'ok' : 'failed' });
    pullSeconds.observe(seconds);
    const ref = (req as { image?: { image?: string } }).image?.image;
    const img = code === grpcStatus.OK && ref ? ctx.images.find(ref) : undefined;
    if (img) pullBytes.inc(img.size);
  };
  return { observe, registry };
}

/** Serves /metrics on `address` (host:port); resolves once listening. */
export async function serveMetrics(address: string, registry: Registry, log: Logger): Promise<http.Server> {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) throw invalid(`metrics_address ${JSON.stringify(address)} must be host:port`);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: Error) => res.writeHead(500).end(`${e.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), m[1]!.replace(/^\[|\]$/g, ''), () => resolve());
  });
  const a = server.address();
  log.info({ address: typeof a === 'object' && a ? `${a.address}:${a.port}` : address }, 'metrics served');
  return server;
}
