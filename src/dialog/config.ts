import { z } from 'zod';
import { secret } from '../config/secret.js';

export const intentConfig = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'intent names are lower_snake_case'),
  description: z.string().default(''),
  examples: z.array(z.string()).default([]),
  keywords: z.array(z.string()).default([]),
  patterns: z.array(z.string()).default([]),
  slots: z
    .record(z.string(), z.strictObject({ pattern: z.string(), spokenDigits: z.boolean().default(false) }))
    .default({}),
  responses: z.array(z.string()).default([]),
  escalate: z.boolean().default(false),
  /** Routing target name (see routing.targets) for escalations of this intent. */
  route: z.string().optional(),
});

export const dialogConfig = z.strictObject({
  greeting: z.string().default('Hello, thanks for calling. How can I help you today?'),
  /** Played without barge-in (legal notices), before the greeting. */
  notice: z.string().optional(),
  clarify: z.string().default("Sorry, I didn't quite get that. Could you say it another way?"),
  transferMessage: z.string().default('Let me put you through to a colleague. One moment please.'),
  goodbye: z.string().default('Thanks for calling. Goodbye!'),
  lowConfidence: z.number().min(0).max(1).default(0.45),
  maxLowConfidenceTurns: z.number().int().min(1).default(2),
  bargeIn: z.boolean().default(true),
  angryWords: z.array(z.string()).default(['ridiculous', 'useless', 'furious', 'angry', 'terrible', 'unacceptable']),
  intents: z.array(intentConfig).default([]),
  llm: z
    .strictObject({
      enabled: z.boolean().default(false),
      baseUrl: z.string().url().default('http://127.0.0.1:11434/v1'),
      apiKey: secret().optional(),
      model: z.string().default('llama3.1:8b'),
      timeoutMs: z.number().int().min(100).default(2500),
    })
    .prefault({}),
  routing: z
    .strictObject({
      default: z.string().default('agent'),
      targets: z
        .record(
          z.string(),
          z.strictObject({
            kind: z.enum(['endpoint', 'sip', 'user', 'phone']).default('endpoint'),
            address: z.string(),
            timeoutSec: z.number().int().min(5).default(30),
          }),
        )
        .default({ agent: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 30 } }),
    })
    .prefault({}),
});
export type DialogConfig = z.infer<typeof dialogConfig>;
