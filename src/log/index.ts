/** Public entry point `voicebot/log`: the redacting logger, per-call child loggers, rate-limited warnings. */
export { callLogger, createLogger, type Logger } from './logger.js';
export { WarnLimiter } from './rate-limit.js';
