import { z } from 'zod';

export const logConfig = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json: one JSON object a line; pretty: readable lines; auto: pretty on a terminal, JSON otherwise. */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
  /** Mask caller phone numbers in logs (keeps the last 4 digits). */
  redactPhoneNumbers: z.boolean().default(false),
});
export type LogConfig = z.infer<typeof logConfig>;
