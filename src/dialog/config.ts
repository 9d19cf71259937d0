import { z } from 'zod';
import { secret } from '../config/secret.js';

export const intentConfig = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, 'intent names are lower_snake_case')
    .describe('Intent name, lower_snake_case.'),
  description: z.string().default('').describe('What the intent means; helps the LLM.'),
  examples: z.array(z.string()).default([]).describe('Example caller sentences (word-overlap matching and the LLM).'),
  keywords: z.array(z.string()).default([]).describe('Words that point to this intent.'),
  patterns: z
    .array(z.string())
    .default([])
    .describe('Regular expressions (case-insensitive) that identify the intent.'),
  slots: z
    .record(
      z.string(),
      z.strictObject({
        pattern: z.string().describe('Regular expression; its first group (or the whole match) is the value.'),
        spokenDigits: z
          .boolean()
          .default(false)
          .describe('Normalise digits read out ("one two", "double five", "oh") before the pattern runs.'),
      }),
    )
    .default({})
    .describe(
      "Values taken from the caller's words: name → {pattern, spokenDigits (digits read out are normalised first)}.",
    ),
  responses: z
    .array(z.string())
    .default([])
    .describe('Reply templates with {slot} placeholders; the filled template with the most slots wins.'),
  escalate: z.boolean().default(false).describe('Hand over to a person whenever this intent is detected.'),
  /** Routing target name (see routing.targets) for escalations of this intent. */
  route: z.string().optional().describe('Routing target (dialog.routing.targets) for escalations of this intent.'),
  /** Say the response, then the goodbye, then hang up (e.g. a "that's all, thanks" intent). */
  hangup: z.boolean().default(false).describe('Say the response, then the goodbye, then hang up.'),
});
export type IntentConfig = z.infer<typeof intentConfig>;

export const routingTarget = z.strictObject({
  kind: z
    .enum(['endpoint', 'sip', 'user', 'phone'])
    .default('endpoint')
    .describe(
      'endpoint (an Asterisk dial string as given), sip (URI), user (registered user) or phone (number through the trunk).',
    ),
  address: z.string().describe('Dial string, SIP URI, user name or phone number.'),
  timeoutSec: z
    .number()
    .int()
    .min(5)
    .default(30)
    .describe('Ring time before the transfer counts as not answered, seconds.'),
});

/** What the bot does about silence, long calls and long turns. All on the call's injected clock. */
export const noInputConfig = z.strictObject({
  timeoutSec: z
    .number()
    .min(0)
    .default(8)
    .describe('Silence from the caller (bot listening, nobody speaking) before a re-prompt, seconds; 0 turns it off.'),
  prompts: z
    .array(z.string().min(1))
    .default(['Are you still there?', "Sorry, I can't hear you. How can I help you today?"])
    .describe('Re-prompts said one after the other, one per silence; how many there are is how many are tried.'),
  then: z
    .enum(['goodbye', 'escalate'])
    .default('goodbye')
    .describe('After the last re-prompt goes unanswered: say noInput.goodbye and hang up, or hand over to a person.'),
  goodbye: z
    .string()
    .default("I can't hear anything, so I'll end the call now. Please call again. Goodbye!")
    .describe('Said before the bot hangs up on a silent caller (noInput.then: goodbye).'),
});

export const maxCallConfig = z.strictObject({
  durationSec: z
    .number()
    .min(0)
    .default(1800)
    .describe('Longest a call may stay with the bot, seconds; 0 turns the limit off.'),
  warningSec: z
    .number()
    .min(0)
    .default(60)
    .describe('How long before the limit the warning is said, seconds; 0: no warning.'),
  warning: z
    .string()
    .default("We're nearly out of time for this call. Is there anything else I can quickly help with?")
    .describe('Said once, warningSec before the call limit (at the next point the bot would listen).'),
  goodbye: z
    .string()
    .default("I'm sorry, we've reached the time limit for this call. Please call again. Goodbye!")
    .describe('Said (no barge-in) when the limit is reached, then the bot hangs up.'),
});

export const dialogConfig = z
  .strictObject({
    greeting: z
      .string()
      .default('Hello, thanks for calling. How can I help you today?')
      .describe('First thing the bot says.'),
    /** Played without barge-in (legal notices), before the greeting. */
    notice: z.string().optional().describe('Played before the greeting without barge-in (legal notices).'),
    clarify: z
      .string()
      .default("Sorry, I didn't quite get that. Could you say it another way?")
      .describe('Said after a low-confidence turn.'),
    transferMessage: z
      .string()
      .default('Let me put you through to a colleague. One moment please.')
      .describe('Said while the call is handed to a person (no barge-in).'),
    /** Said when the agent leg is busy, not answered or failed; the bot keeps the call. */
    transferFailed: z
      .string()
      .default(
        "I'm sorry, nobody is free to take your call right now. I've noted your request and a colleague will call you back. Is there anything else I can help with?",
      )
      .describe('Said when the agent is busy, does not answer or the transfer fails; the bot keeps the call.'),
    goodbye: z.string().default('Thanks for calling. Goodbye!').describe('Said before the bot hangs up.'),
    /** Said when an intent matched but has no response template and no LLM reply. */
    fallbackReply: z
      .string()
      .default('Thanks, I have noted that. Is there anything else I can help with?')
      .describe('Said when an intent matched but has no response template and no LLM reply.'),
    lowConfidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.45)
      .describe('Turns below this NLU confidence are low-confidence.'),
    maxLowConfidenceTurns: z.number().int().min(1).default(2).describe('Low-confidence turns in a row that escalate.'),
    bargeIn: z.boolean().default(true).describe('Let the caller interrupt the bot.'),
    interruption: z
      .strictObject({
        minWords: z
          .number()
          .int()
          .min(0)
          .max(10)
          .default(0)
          .describe(
            'Words the partial recognition must hold before the bot stops for a caller talking over it; 0: stop on speech alone (after speech.vad.interruptionMs). Needs an ASR with partial results, otherwise the final one decides.',
          ),
        resume: z
          .boolean()
          .default(true)
          .describe(
            'When a barge-in turns out to be no speech (noise or echo: nothing recognised), say the rest of the cut prompt instead of going silent.',
          ),
      })
      .prefault({})
      .describe('When a caller talking over the bot stops it, and what happens when it was not a caller after all.'),
    angryWords: z
      .array(z.string())
      .default(['ridiculous', 'useless', 'furious', 'angry', 'terrible', 'unacceptable'])
      .describe('Whole words that escalate at once (reason angry).'),
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
      ])
      .describe('Phrases that mean "put me through to a human", whatever intents are configured.'),
    /** DTMF digit that escalates at once. Empty string: off. */
    escalateDigit: z
      .preprocess(
        (v) => (typeof v === 'number' ? String(v) : v),
        z.string().regex(/^[0-9*#]?$/, 'one of 0-9 * # or ""'),
      )
      .default('0')
      .describe('DTMF digit that escalates at once, even while the bot speaks; empty string turns it off.'),
    noInput: noInputConfig.prefault({}).describe('Re-prompts for a silent caller (see dialog.noInput.* keys).'),
    maxCall: maxCallConfig.prefault({}).describe('Call duration limit with a warning (see dialog.maxCall.* keys).'),
    maxMonologueSec: z
      .number()
      .min(0)
      .default(45)
      .describe('Longest caller turn: past it the turn is cut and answered as it stands, seconds; 0 turns it off.'),
    asrFinalGraceMs: z
      .number()
      .int()
      .min(100)
      .default(15_000)
      .describe(
        'Wait for the final recognition after the caller stops; past it the last partial result is the turn (none: dropped), ms.',
      ),
    transferGraceSec: z
      .number()
      .min(0)
      .default(15)
      .describe(
        "Beyond a routing target's timeoutSec, how long the bot waits for the backend's transfer answer before it counts as not answered, seconds.",
      ),
    resumePrompt: z
      .string()
      .default('Sorry about that. Where were we?')
      .describe(
        'Said instead of the greeting when a bot process takes up a call another one served (crash, drain, lost link); empty: say nothing.',
      ),
    intents: z
      .array(intentConfig)
      .default([])
      .describe('What callers want and how the bot answers (see dialog.intents[] keys).'),
    llm: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe('Ask an LLM for the intent, slots and reply; the rules decide when it fails.'),
        baseUrl: z
          .string()
          .url()
          .default('http://127.0.0.1:11434/v1')
          .describe('OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp, OpenAI).'),
        apiKey: secret().optional().describe('API key, sent as Bearer, never logged.'),
        model: z.string().default('llama3.1:8b').describe('Model name.'),
        timeoutMs: z
          .number()
          .int()
          .min(100)
          .default(2500)
          .describe('Bound on one LLM request; the rules decide after it, ms.'),
        /** Use the LLM for the call summary too (extractive summary on error). */
        summary: z
          .boolean()
          .default(true)
          .describe('Write the CRM summary with the LLM too (extractive summary on error).'),
        temperature: z.number().min(0).max(2).default(0).describe('Sampling temperature.'),
      })
      .prefault({}),
    routing: z
      .strictObject({
        default: z
          .string()
          .default('agent')
          .describe('Target for escalations whose intent has no route (and all low-confidence ones).'),
        targets: z
          .record(z.string(), routingTarget)
          .default({ agent: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 30 } })
          .describe('Transfer targets by name (see dialog.routing.targets.<name> keys).'),
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
