import { z } from 'zod';
import type { Logger } from '../../log/logger.js';
import type { DialogConfig, IntentConfig } from '../config.js';
import { ChatError, type ChatClient, type ChatMessage } from './chat-client.js';
import type { RuleIntentDetector } from './rules.js';
import type { DetectContext, IntentDetector, IntentResult } from './types.js';

export const NO_INTENT = 'none';

/** JSON schema sent as `response_format`, so a capable server constrains decoding to it. */
export function intentResponseFormat(intents: readonly IntentConfig[]) {
  const slotNames = [...new Set(intents.flatMap((i) => Object.keys(i.slots)))];
  return {
    type: 'json_schema',
    json_schema: {
      name: 'intent_detection',
      strict: true,
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['intent', 'confidence', 'reply', 'escalate', 'slots'],
        properties: {
          intent: { type: 'string', enum: [...intents.map((i) => i.name), NO_INTENT] },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          reply: { type: 'string' },
          escalate: { type: 'boolean' },
          slots: {
            type: 'object',
            additionalProperties: false,
            required: slotNames,
            properties: Object.fromEntries(slotNames.map((s) => [s, { type: ['string', 'null'] }])),
          },
        },
      },
    },
  };
}

function answerSchema(names: readonly string[]) {
  return z.object({
    intent: z.enum([NO_INTENT, ...names] as [string, ...string[]]),
    confidence: z.number().min(0).max(1),
    reply: z.string().default(''),
    escalate: z.boolean().default(false),
    slots: z.record(z.string(), z.string().nullable()).default({}),
  });
}

function systemPrompt(intents: readonly IntentConfig[]): string {
  const lines = intents.map((i) => {
    const examples = i.examples
      .slice(0, 3)
      .map((e) => `"${e}"`)
      .join(', ');
    return `- ${i.name}: ${i.description || i.name.replace(/_/g, ' ')}${examples ? ` (e.g. ${examples})` : ''}`;
  });
  return [
    'You classify what a caller says on a customer support phone line.',
    `Pick exactly one intent from this list, or "${NO_INTENT}" when none fits:`,
    ...lines,
    'Give your confidence from 0 to 1, a short spoken reply (one or two sentences, no markup),',
    'escalate=true only if the caller wants a human or is upset, and any slot values you heard (digits as digits).',
    'Answer with JSON only.',
  ].join('\n');
}

export type LlmFallbackReason = 'timeout' | 'http' | 'network' | 'malformed' | 'schema';

/**
 * LLM intent detection with the rule matcher as the safety net: on timeout, HTTP error,
 * malformed JSON or an answer outside the schema, the rules decide.
 */
export class LlmIntentDetector implements IntentDetector {
  readonly #schema: ReturnType<typeof answerSchema>;
  readonly #format: ReturnType<typeof intentResponseFormat>;
  readonly #system: string;
  readonly #client: ChatClient;
  readonly #rules: RuleIntentDetector;
  readonly #config: Pick<DialogConfig, 'intents'>;
  readonly #logger: Logger;

  readonly #onFallback: (reason: LlmFallbackReason) => void;

  constructor(
    client: ChatClient,
    rules: RuleIntentDetector,
    config: Pick<DialogConfig, 'intents'>,
    logger: Logger,
    onFallback: (reason: LlmFallbackReason) => void = () => {},
  ) {
    this.#client = client;
    this.#rules = rules;
    this.#config = config;
    this.#logger = logger;
    this.#onFallback = onFallback;
    const names = config.intents.map((i) => i.name);
    this.#schema = answerSchema(names);
    this.#format = intentResponseFormat(config.intents);
    this.#system = systemPrompt(config.intents);
  }

  async detect(text: string, context: DetectContext = {}): Promise<IntentResult> {
    const messages: ChatMessage[] = [{ role: 'system', content: this.#system }];
    for (const h of (context.history ?? []).slice(-6)) {
      messages.push({ role: h.speaker === 'caller' ? 'user' : 'assistant', content: h.text });
    }
    messages.push({ role: 'user', content: text });
    let content: string;
    try {
      content = await this.#client.complete(messages, { responseFormat: this.#format, signal: context.signal });
    } catch (err) {
      if (err instanceof ChatError && err.reason === 'aborted') throw err;
      const reason: LlmFallbackReason = err instanceof ChatError && err.reason !== 'aborted' ? err.reason : 'network';
      return this.#fallback(reason, text, context, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(stripFences(content));
    } catch (err) {
      return this.#fallback('malformed', text, context, err);
    }
    const answer = this.#schema.safeParse(parsed);
    if (!answer.success) return this.#fallback('schema', text, context, answer.error);
    const a = answer.data;
    const intent = a.intent === NO_INTENT ? null : a.intent;
    const configured = this.#config.intents.find((i) => i.name === intent);
    const llmSlots = Object.fromEntries(
      Object.entries(a.slots).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== ''),
    );
    // regex slots are exact where they match; the LLM fills the rest
    const slots = intent ? { ...llmSlots, ...this.#rules.slotsFor(intent, text) } : {};
    return {
      intent,
      confidence: a.confidence,
      slots,
      escalate: a.escalate || (configured?.escalate ?? false),
      ...(a.reply.trim() ? { reply: a.reply.trim() } : {}),
      source: 'llm',
    };
  }

  #fallback(reason: LlmFallbackReason, text: string, context: DetectContext, err: unknown): Promise<IntentResult> {
    this.#logger.warn({ reason, err: (err as Error)?.message }, 'LLM intent detection failed; using rules');
    this.#onFallback(reason);
    return this.#rules.detect(text, context);
  }
}

/** Some models wrap JSON in ```json fences despite being asked not to. */
function stripFences(s: string): string {
  const m = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(s);
  return m ? m[1]! : s;
}
