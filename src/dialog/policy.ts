import type { DialogConfig } from './config.js';
import type { IntentResult } from './nlu/types.js';
import { routeFor, type Route } from './routing.js';
import { chooseResponse } from './templates.js';

export type EscalationReason = 'caller-request' | 'intent' | 'low-confidence' | 'angry' | 'dtmf' | 'no-input';

export type Decision =
  | { kind: 'answer'; intent: string; reply: string; hangup: boolean }
  | { kind: 'clarify'; reply: string }
  | { kind: 'escalate'; reason: EscalationReason; route: Route };

export interface PolicyState {
  /** low-confidence turns in a row */
  lowConfidenceStreak: number;
}

const wordRegex = (phrase: string) =>
  new RegExp(`(?:^|\\b)${phrase.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\b|$)`, 'i');

function mentions(text: string, phrases: readonly string[]): boolean {
  return phrases.some((p) => p.trim() !== '' && wordRegex(p).test(text));
}

/**
 * What to do with one caller turn. Pure: the caller owns the state and gets the next one back.
 * Order matters: an angry caller or one asking for a person is escalated whatever the NLU says.
 */
export function decide(
  config: DialogConfig,
  text: string,
  nlu: IntentResult,
  state: PolicyState,
): { decision: Decision; state: PolicyState } {
  const escalate = (reason: EscalationReason): { decision: Decision; state: PolicyState } => ({
    // a guess below the threshold must not pick a specialist queue
    decision: { kind: 'escalate', reason, route: routeFor(config, reason === 'low-confidence' ? null : nlu.intent) },
    state: { lowConfidenceStreak: 0 },
  });
  if (mentions(text, config.angryWords)) return escalate('angry');
  if (mentions(text, config.personPhrases)) return escalate('caller-request');
  const confident = nlu.intent !== null && nlu.confidence >= config.lowConfidence;
  if (confident && nlu.escalate) return escalate('intent');
  if (!confident) {
    const streak = state.lowConfidenceStreak + 1;
    if (streak >= config.maxLowConfidenceTurns) return escalate('low-confidence');
    return { decision: { kind: 'clarify', reply: config.clarify }, state: { lowConfidenceStreak: streak } };
  }
  const intent = config.intents.find((i) => i.name === nlu.intent);
  const reply = chooseResponse(intent?.responses ?? [], nlu.slots) ?? nlu.reply ?? config.fallbackReply;
  return {
    decision: { kind: 'answer', intent: nlu.intent!, reply, hangup: intent?.hangup ?? false },
    state: { lowConfidenceStreak: 0 },
  };
}

/** DTMF: the escalation digit hands over at once; other digits are noted and ignored. */
export function decideDtmf(config: DialogConfig, digit: string, intent: string | null): Decision | null {
  if (config.escalateDigit !== '' && digit === config.escalateDigit) {
    return { kind: 'escalate', reason: 'dtmf', route: routeFor(config, intent) };
  }
  return null;
}
