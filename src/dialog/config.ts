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
  /** Say the response, then the goodbye, then hang up (e.g. a "that's all, thanks" intent). */
  hangup: z.boolean().default(false),
});
export type IntentConfig = z.infer<typeof intentConfig>;

export const routingTarget = z.strictObject({
  kind: z.enum(['endpoint', 'sip', 'user', 'phone']).default('endpoint'),
  address: z.string(),
  timeoutSec: z.number().int().min(5).default(30),
});

export const dialogConfig = z
  .strictObject({
    greeting: z.string().default('Hello, thanks for calling. How can I help you today?'),
    /** Played without barge-in (legal notices), before the greeting. */
    notice: z.string().optional(),
    clarify: z.string().default("Sorry, I didn't quite get that. Could you say it another way?"),
    transferMessage: z.string().default('Let me put you through to a colleague. One moment please.'),
    /** Said when the agent leg is busy, not answered or failed; the bot keeps the call. */
    transferFailed: z
      .string()
      .default(
        "I'm sorry, nobody is free to take your call right now. I've noted your request and a colleague will call you back. Is there anything else I can help with?",
      ),
    goodbye: z.string().default('Thanks for calling. Goodbye!'),
    /** Said when an intent matched but has no response template and no LLM reply. */
    fallbackReply: z.string().default('Thanks, I have noted that. Is there anything else I can help with?'),
    lowConfidence: z.number().min(0).max(1).default(0.45),
    maxLowConfidenceTurns: z.number().int().min(1).default(2),
    bargeIn: z.boolean().default(true),
    angryWords: z.array(z.string()).default(['ridiculous', 'useless', 'furious', 'angry', 'terrible', 'unacceptable']),
    /** Phrases that mean "put me through to a human", whatever intents are configured. */
    personPhrases: z
      .array(z.string())
      .default([
        'real person',
        'a human',
        'talk to someone',
        'speak to someone',
        'representative',
        'operator',
        'an agent',
        'a person',
      ]),
    /** DTMF digit that escalates at once. Empty string: off. */
    escalateDigit: z
      .preprocess(
        (v) => (typeof v === 'number' ? String(v) : v),
        z.string().regex(/^[0-9*#]?$/, 'one of 0-9 * # or ""'),
      )
      .default('0'),
    intents: z.array(intentConfig).default([]),
    llm: z
      .strictObject({
        enabled: z.boolean().default(false),
        baseUrl: z.string().url().default('http://127.0.0.1:11434/v1'),
        apiKey: secret().optional(),
        model: z.string().default('llama3.1:8b'),
        timeoutMs: z.number().int().min(100).default(2500),
        /** Use the LLM for the call summary too (extractive summary on error). */
        summary: z.boolean().default(true),
        temperature: z.number().min(0).max(2).default(0),
      })
      .prefault({}),
    routing: z
      .strictObject({
        default: z.string().default('agent'),
        targets: z
          .record(z.string(), routingTarget)
          .default({ agent: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 30 } }),
      })
      .prefault({}),
  })
  .superRefine((d, ctx) => {
    if (!d.routing.targets[d.routing.default]) {
      ctx.addIssue({
        code: 'custom',
        path: ['routing', 'default'],
        message: `routing target "${d.routing.default}" is not in dialog.routing.targets`,
      });
    }
    const seen = new Set<string>();
    d.intents.forEach((intent, i) => {
      if (seen.has(intent.name)) {
        ctx.addIssue({ code: 'custom', path: ['intents', i, 'name'], message: `duplicate intent "${intent.name}"` });
      }
      seen.add(intent.name);
      if (intent.route && !d.routing.targets[intent.route]) {
        ctx.addIssue({
          code: 'custom',
          path: ['intents', i, 'route'],
          message: `routing target "${intent.route}" is not in dialog.routing.targets`,
        });
      }
      const regexes: Array<[string, string]> = [
        ...intent.patterns.map((p, j): [string, string] => [`patterns.${j}`, p]),
        ...Object.entries(intent.slots).map(([k, s]): [string, string] => [`slots.${k}.pattern`, s.pattern]),
      ];
      for (const [where, source] of regexes) {
        try {
          new RegExp(source, 'i');
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            path: ['intents', i, ...where.split('.')],
            message: `invalid regular expression: ${(err as Error).message}`,
          });
        }
      }
    });
  });
export type DialogConfig = z.infer<typeof dialogConfig>;
