/** The root pino logger. Secrets are redacted by key wherever they appear; never log a credential object. */
import { pino, type DestinationStream, type Logger as Pino } from 'pino';

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
