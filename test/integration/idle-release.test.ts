// berthd gives memory back once it is quiet (idle_release_seconds): free heap, and the
// clean pages of node's executable and of the addon that start-up and the last RPCs
// mapped. Afterwards everything still works: the pages fault back in from the page cache.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { busybox, containerConfig, type Instance, podConfig, startInstance } from '../helpers/instance.js';

let inst: Instance;
test.before(async () => {
  inst = await startInstance({ env: { BERTH_IDLE_RELEASE_SECONDS: '1' } });
});
test.after.always(async () => {
  await inst?.cleanup();
});

/** Resident KiB of node's executable in berthd (the mapping the release unmaps). */
function executableRssKb(pid: number): number {
  const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!;
  let total = 0;
  let inExe = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) inExe = head[1] === exe || head[1]!.endsWith('/node');
    else if (inExe && line.startsWith('Rss:')) total += Number(line.split(/\s+/)[1]);
  }
  return total;
}

const released = () => inst.log().split('\n').filter((l) => l.includes('quiet: released clean pages'));

test.serial('after start-up and after each busy spell, berthd releases memory once; RPCs work on after it', async (t) => {
  await inst.waitForLog(/quiet: released clean pages/, 10_000);
  const first = JSON.parse(released()[0]!) as { rssMbBefore: number; rssMbAfter: number };
  t.true(first.rssMbAfter < first.rssMbBefore - 10, `RSS ${first.rssMbBefore} → ${first.rssMbAfter} MB`);
  const exeAfterStart = executableRssKb(inst.proc.pid!);

  // Polling (read-only RPCs) is not activity: no new release, and they work on faulted-back pages.
  for (let i = 0; i < 3; i++) {
    t.is((await inst.rt.version({})).runtimeName, 'berth');
    await inst.rt.listContainers({});
    await new Promise((r) => setTimeout(r, 500));
  }
  t.is(released().length, 1);
  t.true(executableRssKb(inst.proc.pid!) > exeAfterStart, 'the RPCs faulted pages of the executable back in');

  // A busy spell (pull, pod, container, exec), then another release.
  await inst.img.pullImage({ image: { image: busybox } });
  const cfg = podConfig('idle-release', { logDirectory: inst.logDir });
  const { podSandboxId } = await inst.rt.runPodSandbox({ config: cfg });
  const { containerId } = await inst.rt.createContainer({ podSandboxId, config: containerConfig('idle-release', busybox, ['sleep', '60']), sandboxConfig: cfg });
  await inst.rt.startContainer({ containerId });
  await inst.waitForLog(/(quiet: released clean pages[\s\S]*){2}/, 10_000);
  const ex = await inst.rt.execSync({ containerId, cmd: ['echo', 'still here'], timeout: 10n });
  t.is(Buffer.from(ex.stdout).toString(), 'still here\n');
  await inst.rt.stopPodSandbox({ podSandboxId });
  await inst.rt.removePodSandbox({ podSandboxId });
  t.deepEqual(inst.leaks(), []);
});
