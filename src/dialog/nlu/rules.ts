import type { IntentConfig } from '../config.js';
import { normaliseSpokenDigits } from './spoken-digits.js';
import type { DetectContext, IntentDetector, IntentResult } from './types.js';

/** Graded confidence: a regex pattern is the strongest evidence, then a keyword, then example overlap. */
export const PATTERN_CONFIDENCE = 0.95;
export const KEYWORD_CONFIDENCE = 0.75;
export const EXAMPLE_CONFIDENCE_MAX = 0.65;
/** A bare slot value answering the previous turn's question ("1234" after "what's your order number?"). */
export const SLOT_FOLLOW_UP_CONFIDENCE = 0.8;

const STOPWORDS = new Set(
  'a an the i me my we our you your it its is am are was be to of in on for and or but with at by this that do does did can could would please hi hello hey yes no so just about'.split(
    ' ',
  ),
);

export function contentTokens(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9']+/g) ?? []).filter((t) => !STOPWORDS.has(t));
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface CompiledIntent {
  config: IntentConfig;
  patterns: RegExp[];
  keywords: RegExp[];
  examples: Set<string>[];
  slots: Array<{ name: string; pattern: RegExp; spokenDigits: boolean }>;
}

function compile(intent: IntentConfig): CompiledIntent {
  return {
    config: intent,
    patterns: intent.patterns.map((p) => new RegExp(p, 'i')),
    keywords: intent.keywords.map((k) => new RegExp(`(?:^|\\b)${escapeRegex(k.toLowerCase())}(?:\\b|$)`, 'i')),
    examples: intent.examples.map((e) => new Set(contentTokens(e))).filter((s) => s.size > 0),
    slots: Object.entries(intent.slots).map(([name, s]) => ({
      name,
      pattern: new RegExp(s.pattern, 'i'),
      spokenDigits: s.spokenDigits,
    })),
  };
}

/** Deterministic matcher over the YAML intents. */
export class RuleIntentDetector implements IntentDetector {
  readonly #intents: CompiledIntent[];

  constructor(intents: readonly IntentConfig[]) {
    this.#intents = intents.map(compile);
  }

  get intentNames(): string[] {
    return this.#intents.map((i) => i.config.name);
  }

  detect(text: string, context: DetectContext = {}): Promise<IntentResult> {
    return Promise.resolve(this.match(text, context));
  }

  /** Synchronous core, shared with the LLM detector for slot filling. */
  match(text: string, context: DetectContext = {}): IntentResult {
    const normalised = normaliseSpokenDigits(text);
    let best: { intent: CompiledIntent; confidence: number } | null = null;
    for (const intent of this.#intents) {
      const confidence = this.#score(intent, text, normalised);
      if (confidence > 0 && (!best || confidence > best.confidence)) best = { intent, confidence };
    }
    const previous = this.#intents.find((i) => i.config.name === context.previousIntent);
    if (previous && (!best || best.confidence < SLOT_FOLLOW_UP_CONFIDENCE)) {
      const slots = this.slotsFor(previous.config.name, text);
      if (Object.keys(slots).length > 0) {
        return {
          intent: previous.config.name,
          confidence: SLOT_FOLLOW_UP_CONFIDENCE,
          slots,
          escalate: previous.config.escalate,
          source: 'rules',
        };
      }
    }
    if (!best) return { intent: null, confidence: 0, slots: {}, escalate: false, source: 'rules' };
    return {
      intent: best.intent.config.name,
      confidence: round(best.confidence),
      slots: this.slotsFor(best.intent.config.name, text),
      escalate: best.intent.config.escalate,
      source: 'rules',
    };
  }

  /** Slot values for `intentName` found in `text` (capture group 1 if the pattern has one). */
  slotsFor(intentName: string, text: string): Record<string, string> {
    const intent = this.#intents.find((i) => i.config.name === intentName);
    if (!intent) return {};
    const normalised = normaliseSpokenDigits(text);
    const slots: Record<string, string> = {};
    for (const slot of intent.slots) {
      const m = slot.pattern.exec(slot.spokenDigits ? normalised : text);
      const value = m ? (m[1] ?? m[0]) : undefined;
      if (value?.trim()) slots[slot.name] = value.trim();
    }
    return slots;
  }

  #score(intent: CompiledIntent, text: string, normalised: string): number {
    if (intent.patterns.some((p) => p.test(text) || p.test(normalised))) return PATTERN_CONFIDENCE;
    const keywordHits = intent.keywords.filter((k) => k.test(text)).length;
    if (keywordHits > 0) return Math.min(KEYWORD_CONFIDENCE + 0.05 * (keywordHits - 1), PATTERN_CONFIDENCE - 0.05);
    const said = new Set(contentTokens(text));
    let overlap = 0;
    for (const example of intent.examples) {
      let shared = 0;
      for (const token of example) if (said.has(token)) shared++;
      // Dice coefficient: penalises both missing words and long rambles
      overlap = Math.max(overlap, (2 * shared) / (example.size + said.size));
    }
    return overlap * EXAMPLE_CONFIDENCE_MAX;
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
