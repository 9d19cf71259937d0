import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { LogConfig } from './config.js';

export type { Logger } from 'pino';

/** Keys whose values are secrets wherever they appear (top level and one or two levels down). */
const SECRET_KEYS = [
  'password',
  'apiToken',
  'apiKey',
  'accessToken',
  'token',
  'secret',
  'webhookSecret',
  'authorization',
  'Authorization',
  'cookie',
  'wsPassword',
];
const PHONE_KEYS = ['phone', 'from', 'to', 'caller', 'callerId', 'calledNumber'];

const atDepths = (keys: string[]) => keys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
export const REDACTED = '[redacted]';

/** Keep the last 4 digits so support staff can still match a call. */
export function maskPhone(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length <= 4) return '***';
  return `***${digits.slice(-4)}`;
}

export function createLogger(cfg: LogConfig, destination?: DestinationStream): Logger {
  const phoneKeys = new Set(PHONE_KEYS);
  const paths = atDepths(SECRET_KEYS);
  if (cfg.redactPhoneNumbers) paths.push(...atDepths(PHONE_KEYS));
  const options: pino.LoggerOptions = {
    level: cfg.level,
    base: { service: 'voicebot' },
    redact: {
      paths,
      censor: (value: unknown, path: string[]) => {
        const key = path[path.length - 1] ?? '';
        if (phoneKeys.has(key)) return typeof value === 'string' ? maskPhone(value) : value;
        return REDACTED;
      },
    },
  };
  const usePretty = cfg.format === 'pretty' || (cfg.format === 'auto' && process.stdout.isTTY === true);
  if (destination) return pino(options, destination);
  if (usePretty)
    return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  return pino(options);
}

/** Child logger that carries the call id on every line. */
export function callLogger(parent: Logger, callId: string, extra: Record<string, unknown> = {}): Logger {
  return parent.child({ callId, ...extra });
}
