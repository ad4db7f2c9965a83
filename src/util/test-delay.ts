// Fault injection, for tests only. CreateContainer runs no external process any more (the
// runtime runs at StartContainer), so the slow create that a kubelet gives up on and
// retries cannot be produced for real in a test; the create-handoff tests name a file
// holding the seconds to wait in BERTH_TEST_CREATE_DELAY_FILE. Unset (always, outside
// those tests): nothing is read.
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function injectedCreateDelay(): Promise<void> {
  const file = process.env.BERTH_TEST_CREATE_DELAY_FILE;
  if (!file) return;
  const seconds = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
  if (seconds > 0) await sleep(seconds * 1000);
}
