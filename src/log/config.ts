import { z } from 'zod';

export const logConfig = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Lowest log level written.'),
  /** json: one JSON object a line; pretty: readable lines; auto: pretty on a terminal, JSON otherwise. */
  format: z
    .enum(['auto', 'json', 'pretty'])
    .default('auto')
    .describe('json: one JSON object a line; pretty: readable lines; auto: pretty on a terminal, JSON otherwise.'),
  /** Mask caller phone numbers in logs (keeps the last 4 digits). */
  redactPhoneNumbers: z
    .boolean()
    .default(false)
    .describe('Log caller numbers masked, keeping the last 4 digits (***4567).'),
});
export type LogConfig = z.infer<typeof logConfig>;
