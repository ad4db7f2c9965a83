#!/usr/bin/env node
// berthd entry point: flags/config → daemon; SIGTERM/SIGINT stop it cleanly.
import { loadConfig, usage } from './config/config.js';
import { startDaemon } from './daemon.js';
import { createLogger } from './log.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const cfg = loadConfig(argv);
  const log = createLogger(cfg.logLevel);
  const daemon = await startDaemon(cfg, log).catch((e: Error) => {
    log.fatal({ err: e.message }, 'berthd cannot start');
    log.flush();
    process.stderr.write(`berthd: ${e.message}\n`);
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
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
}

main().catch((e: Error) => {
  process.stderr.write(`berthd: ${e.message}\n`);
  process.exit(1);
});
