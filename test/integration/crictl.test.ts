// The issue-2 crictl sequence against a real berthd, with crictl itself: v1.37 (the CRI
// berth speaks, built by scripts/install-critest.sh) and v1.36 (the previous minor, whose
// kubelet must keep working; scripts/install-crictl.sh).
import test from 'ava';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crictlSequence, runCrictl } from '../helpers/crictl-sequence.js';
import { type Instance, startInstance } from '../helpers/instance.js';

let inst: Instance;
const cache = process.env.BERTH_CACHE ?? '/var/cache/berth';
const crictls: Record<string, string | undefined> = {
  'v1.37': [process.env.CRICTL_137, path.join(cache, 'cri-tools-v1.37.0', 'crictl')].find((p) => p && existsSync(p)),
  'v1.36': [process.env.CRICTL, '/usr/local/bin/crictl', path.join(os.homedir(), 'go', 'bin', 'crictl')].find((p) => p && existsSync(p)),
};

test.before(async () => {
  inst = await startInstance();
});
test.after.always(async () => {
  await inst?.cleanup();
});

for (const [version, bin] of Object.entries(crictls)) {
  test.serial(`crictl ${version}: version, pull, images, runp, create, start, ps, logs, exec, inspect, inspectp, stop, rm, stopp, rmp, rmi`, async (t) => {
    if (!bin) return t.fail(`crictl ${version} is not installed (scripts/install-critest.sh builds v1.37, scripts/install-crictl.sh v1.36)`);
    t.regex((await runCrictl(inst, bin, ['--version'])).stdout, new RegExp(`crictl version ${version.replace('.', '\\.')}\\.`));
    await crictlSequence(t, inst, bin, version);
  });
}
