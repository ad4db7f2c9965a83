// The registries.conf v2 that makes berthd pull critest's upstream image names from the
// local registry (test/conformance/registries.conf, with BERTH_REGISTRY substituted).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registry, repoRoot } from '../helpers/instance.js';

/** registries.conf v2: the upstream registries critest names, served by the local one. */
export function registriesConf(): string {
  const file = path.join(repoRoot, 'test', 'conformance', 'registries.conf');
  // One file per registry address (its content depends on nothing else), so runs reuse it
  // instead of leaving one behind each.
  const out = path.join(os.tmpdir(), `berth-critest-registries-${registry.replace(/[^\w.-]/g, '_')}.conf`);
  writeFileSync(out, readFileSync(file, 'utf8').replaceAll('127.0.0.1:5100', registry));
  return out;
}

