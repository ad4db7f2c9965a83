// berthd proper, loaded by cli.ts: flags/config → daemon; SIGTERM/SIGINT stop it cleanly.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaults, loadConfig, usage } from './config/config.js';
import { printConfig } from './config/print.js';
import { startDaemon } from './daemon.js';
import { createLogger } from './log.js';
import { takeNotifySocket } from './util/sd-notify.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (argv.includes('--version')) {
    const { root } = await import('./native/index.js');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`berthd ${pkg.version} (CRI runtime.v1)\n`);
    return;
  }
  if (argv[0] === 'config') {
    // `berthd config [--default] [flags…]`: what berthd would run with, as TOML it reads back.
    const rest = argv.slice(1).filter((a) => a !== '--default');
    const text = argv.includes('--default') ? printConfig(defaults(), 'berthd embedded defaults') : printConfig(loadConfig(rest), 'berthd effective configuration');
    process.stdout.write(text);
    return;
  }
  const cfg = loadConfig(argv);
  const log = createLogger(cfg.logLevel);
  // Signals are handled from the first moment: one that arrives during start-up stops
  // berthd as soon as it is serving, so no half-started daemon is ever killed mid-way.
  const sdNotify = takeNotifySocket();
  const notify = (state: string) => {
    try {
      sdNotify(state);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'systemd notify failed');
    }
  };
  let stopping = false;
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    if (!daemon) return;
    notify('STOPPING=1');
    daemon.stop().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (e: Error) => {
        log.error({ err: e.message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP reloads the files and environment with the same flags; a bad file changes nothing.
  process.on('SIGHUP', () => {
    if (!daemon || stopping) return;
    let next;
    try {
      next = loadConfig(argv);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'configuration not reloaded');
      return;
    }
    notify('RELOADING=1');
    daemon
      .reload(next)
      .catch((e: Error) => log.error({ err: e.message }, 'configuration reload failed'))
      .finally(() => notify('READY=1'));
  });
  daemon = await startDaemon(cfg, log).catch((e: Error) => {
    log.fatal({ err: e.message }, 'berthd cannot start');
    log.flush();
    process.stderr.write(`berthd: ${e.message}\n`);
    process.exit(1);
  });
  notify(`READY=1\nMAINPID=${process.pid}`);
  if (stopping) {
    stopping = false;
    stop('deferred');
  }
}

main().catch((e: Error) => {
  process.stderr.write(`berthd: ${e.message}\n`);
  process.exit(1);
});
