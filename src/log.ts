// One pino logger, JSON to stderr (stdout stays free for the operator's own use).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ name: 'berthd', level }, pino.destination({ fd: 2, sync: false }));
}
