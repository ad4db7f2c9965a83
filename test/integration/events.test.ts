// GetContainerEvents: the live stream the kubelet's evented PLEG and `crictl events` read.
import test from 'ava';
import { credentials } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type ContainerEventResponse, ContainerEventType, ContainerState, GetEventsRequest, PodSandboxState, RuntimeServiceClient } from '../../src/gen/runtime/v1/api.js';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance();
  await inst.img.pullImage({ image: { image: busybox } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

const T = ContainerEventType;

/** Collects events until `done` says the list is complete (or 20 s pass). */
function collect(done: (got: ContainerEventResponse[]) => boolean): { events: ContainerEventResponse[]; finished: Promise<void>; cancel(): void } {
  const client = new RuntimeServiceClient(`unix://${inst.socket}`, credentials.createInsecure());
  const call = client.getContainerEvents(GetEventsRequest.fromPartial({}));
  const events: ContainerEventResponse[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`events so far: ${JSON.stringify(events.map((e) => [e.containerId.slice(0, 8), T[e.containerEventType]]))}`)), 20_000);
    call.on('data', (e: ContainerEventResponse) => {
      events.push(e);
      if (done(events)) {
        clearTimeout(timer);
        resolve();
      }
    });
    call.on('error', (e: Error & { code?: number }) => {
      if (e.code !== 1) reject(e); // 1 = CANCELLED: ours
    });
  });
  return { events, finished, cancel: () => (call.cancel(), client.close()) };
}

test.serial('a container and its pod, from RunPodSandbox to RemovePodSandbox, as events with statuses', async (t) => {
  let podId = '';
  const sub = collect((got) => got.some((e) => e.containerId === podId && e.containerEventType === T.CONTAINER_DELETED_EVENT));
  await new Promise((r) => setTimeout(r, 200)); // the stream is open before the first event
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('events') });
  podId = podSandboxId;
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('exits', busybox, ['sh', '-c', 'sleep 0.3; exit 3']) });
  await inst.rt.startContainer({ containerId });
  // Nobody asks for its status: the stopped event must come from the exit itself.
  for (let i = 0; i < 100 && !sub.events.some((e) => e.containerId === containerId && e.containerEventType === T.CONTAINER_STOPPED_EVENT); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await inst.rt.removeContainer({ containerId });
  await inst.rt.stopPodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  try {
    await sub.finished;
  } finally {
    sub.cancel();
  }
  const of = (id: string) => sub.events.filter((e) => e.containerId === id);
  t.deepEqual(of(containerId).map((e) => T[e.containerEventType]), ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
  t.deepEqual(of(podSandboxId).map((e) => T[e.containerEventType]), ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
  const stopped = of(containerId)[2]!;
  t.is(stopped.podSandboxStatus?.id, podSandboxId);
  t.is(stopped.podSandboxStatus?.state, PodSandboxState.SANDBOX_READY);
  const status = stopped.containersStatuses.find((c) => c.id === containerId);
  t.is(status?.state, ContainerState.CONTAINER_EXITED);
  t.is(status?.exitCode, 3);
  t.true(stopped.createdAt > 0n);
  t.is(of(podSandboxId)[2]!.podSandboxStatus?.state, PodSandboxState.SANDBOX_NOTREADY);
  t.deepEqual(inst.leaks(), []);
});

test.serial('crictl events prints them', async (t) => {
  const bin = ['/var/cache/berth/cri-tools-v1.37.0/crictl', '/usr/local/bin/crictl'].find((p) => existsSync(p));
  if (!bin) return t.fail('crictl is not installed (scripts/install-critest.sh)');
  const p = spawn(bin, ['--runtime-endpoint', `unix://${inst.socket}`, 'events', '--output', 'json'], { env: { ...process.env, CRI_CONFIG_FILE: '/dev/null' } });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await new Promise((r) => setTimeout(r, 500));
    const { podSandboxId } = await inst.rt.runPodSandbox({ config: podConfig('crictl-events') });
    for (let i = 0; i < 100 && !out.includes(podSandboxId); i++) await new Promise((r) => setTimeout(r, 50));
    await inst.rt.removePodSandbox({ podSandboxId });
    t.regex(out, new RegExp(`"containerId":\\s*"${podSandboxId}"[\\s\\S]*"containerEventType":\\s*"CONTAINER_CREATED_EVENT"`));
  } finally {
    p.kill();
  }
  t.deepEqual(inst.leaks(), []);
});
