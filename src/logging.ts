/** The root pino logger. Secrets are redacted by key wherever they appear; never log a credential object. */
import { pino, type DestinationStream, type Logger as Pino } from 'pino';
import type { Logger } from './core/ports.js';

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'credentials',
  '*.credentials',
  'newPassword',
  '*.newPassword',
  'url',
  '*.url',
  'command',
  '*.command',
  'token',
  '*.token',
  'botToken',
  'signingSecret',
  'adminPassword',
  'req.headers.authorization',
  'req.headers["x-slack-signature"]',
  'req.headers.cookie',
];

export function createLogger(level: string, destination?: DestinationStream): Pino {
  return pino(
    {
      level,
      base: { service: 'db-access' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/**
 * The core's Logger port over a pino logger. Pino has the port's shape, and so has what its `child` returns, so the
 * port is the pino logger itself: no wrapper on the logging path, and bindings, levels and redaction stay pino's. The
 * return type is the check: a pino whose API no longer fits the port fails to compile here, not at a call site.
 */
export function loggerPort(logger: Pino): Logger {
  return logger;
}
