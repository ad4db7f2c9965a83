// Prometheus metrics: scraped over HTTP from a berthd with metrics_address set, and parsed.
import test from 'ava';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
let url = '';
test.before(async () => {
  inst = await startInstance({ toml: 'metrics_address = "127.0.0.1:0"' });
  const log = await inst.waitForLog(/"msg":"metrics served"/);
  url = `http://${/"address":"([^"]+)","msg":"metrics served"/.exec(log)![1]}/metrics`;
});
test.after.always(async () => {
  await inst?.cleanup();
});

/** Text exposition format → "name{labels}" → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not the Prometheus text format: ${JSON.stringify(line)}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test.serial('RPC latency and errors by code, image pulls, pods and containers by state, monitors, process metrics', async (t) => {
  await inst.img.pullImage({ image: { image: busybox } });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('metrics') });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('c', busybox, ['sleep', '100']) });
  await inst.rt.startContainer({ containerId });
  await t.throwsAsync(inst.rt.containerStatus({ containerId: 'f'.repeat(64) }), { message: /NOT_FOUND/ });
  const m = await scrape();
  t.true(m.get('berth_grpc_request_duration_seconds_count{method="RunPodSandbox",code="OK"}')! >= 1);
  t.is(m.get('berth_grpc_errors_total{method="ContainerStatus",code="NOT_FOUND"}'), 1);
  t.is(m.get('berth_image_pulls_total{result="ok"}'), 1);
  t.true(m.get('berth_image_pull_bytes_total')! > 100_000);
  t.is(m.get('berth_pods{state="ready"}'), 1);
  t.is(m.get('berth_containers{state="running"}'), 1);
  t.is(m.get('berth_monitors_alive'), 1);
  t.true(m.get('berth_process_resident_memory_bytes')! > 10_000_000);
  await inst.rt.removePodSandbox({ podSandboxId });
  const after = await scrape();
  t.is(after.get('berth_pods{state="ready"}'), 0);
  t.is(after.get('berth_containers{state="running"}'), 0);
  t.deepEqual(inst.leaks(), []);
});
