// What the streaming server runs, from the services: exec'd processes, attachments to a
// container's monitor, and connections into a pod's network namespace.
import type { ContainerService } from '../container/container-service.js';
import { notFound, precondition } from '../errors.js';
import type { PodRecord } from '../pod/pod.js';
import { connectInPod } from '../pod/port-connect.js';
import type { ObjectStore } from '../store/object-store.js';
import type { CommandProcess } from './remote-command.js';
import type { StreamBackend } from './protocols.js';

export function streamBackend(containers: ContainerService, pods: ObjectStore<PodRecord>): StreamBackend {
  return {
    async exec(r): Promise<CommandProcess> {
      const p = await containers.execStream(r.containerId, r.cmd, { tty: r.tty, stdin: r.stdin });
      return { stdin: p.stdin, stdout: p.stdout, stderr: p.stderr, resize: p.resize, exited: p.exited, abort: p.kill };
    },
    async attach(r): Promise<CommandProcess> {
      const a = await containers.attach(r.containerId);
      // No exit code to report: the session ends when the client detaches or the container exits.
      return { stdin: a.stdin, stdout: a.stdout, stderr: a.stderr, resize: a.resize, exited: a.ended.then(() => undefined), abort: a.detach };
    },
    portConnector(r) {
      const pod = pods.find(r.podId);
      if (!pod) throw notFound(`pod sandbox ${r.podId} not found`);
      if (pod.state !== 'ready') throw precondition(`pod sandbox ${r.podId} is not ready`);
      return (port) => connectInPod(pod, port);
    },
  };
}
