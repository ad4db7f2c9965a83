// The registries.conf v2 that makes berthd pull critest's upstream image names from the
// local registry (test/conformance/registries.conf, with BERTH_REGISTRY substituted).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { registry, repoRoot } from '../helpers/instance.js';

/** registries.conf v2: the upstream registries critest names, served by the local one. */
export function registriesConf(): string {
  const file = path.join(repoRoot, 'test', 'conformance', 'registries.conf');
  const out = path.join('/tmp', `berth-critest-registries-${process.pid}.conf`);
  writeFileSync(out, readFileSync(file, 'utf8').replaceAll('127.0.0.1:5100', registry));
  return out;
}

