import type { TranscriptEntry } from '../core/call-record.js';
import type { Logger } from '../log/logger.js';
import type { ChatClient } from './nlu/chat-client.js';
import { contentTokens } from './nlu/rules.js';

export interface SummaryInput {
  intent: string | null;
  slots: Record<string, string>;
  transcript: readonly TranscriptEntry[];
  escalationReason?: string | undefined;
}

const MAX_KEY_SENTENCES = 3;
const MAX_SUMMARY_CHARS = 600;

/**
 * No-LLM summary: intent, slots, and the caller's key sentences — those carrying slot values
 * or the most content words, kept in call order.
 */
export function extractiveSummary(input: SummaryInput): string {
  const parts: string[] = [];
  const intent = input.intent ? input.intent.replace(/_/g, ' ') : 'unknown';
  const slots = Object.entries(input.slots)
    .map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`)
    .join(', ');
  parts.push(`Intent: ${intent}${slots ? ` (${slots})` : ''}.`);
  if (input.escalationReason) parts.push(`Escalated: ${input.escalationReason}.`);
  const callerLines = input.transcript
    .map((e, index) => ({ e, index }))
    .filter(({ e }) => e.speaker === 'caller' && !e.text.startsWith('[DTMF'));
  const values = Object.values(input.slots);
  const scored = callerLines.map(({ e, index }) => ({
    index,
    text: e.text,
    score: contentTokens(e.text).length + (values.some((v) => e.text.includes(v)) ? 100 : 0),
  }));
  const key = scored
    .sort((a, b) => b.score - a.score)
    .slice(0, MAX_KEY_SENTENCES)
    .sort((a, b) => a.index - b.index)
    .map((s) => `"${s.text}"`);
  if (key.length > 0) parts.push(`Caller said: ${key.join(' ')}`);
  else parts.push('The caller said nothing the bot understood.');
  const text = parts.join(' ');
  return text.length > MAX_SUMMARY_CHARS ? `${text.slice(0, MAX_SUMMARY_CHARS - 1)}…` : text;
}

/** LLM summary (2–3 sentences for the agent), falling back to the extractive one on any failure. */
export async function summarise(
  input: SummaryInput,
  client: ChatClient | undefined,
  logger: Logger,
  signal?: AbortSignal,
): Promise<string> {
  const fallback = extractiveSummary(input);
  if (!client) return fallback;
  const lines = input.transcript.map((e) => `${e.speaker}: ${e.text}`).join('\n');
  try {
    const text = await client.complete(
      [
        {
          role: 'system',
          content:
            'Summarise this support phone call for the human agent who takes over: who wants what, key facts ' +
            '(numbers, products), and what the bot already told them. Two or three plain sentences.',
        },
        { role: 'user', content: `Detected intent: ${input.intent ?? 'unknown'}\nTranscript:\n${lines}` },
      ],
      { maxTokens: 200, ...(signal ? { signal } : {}) },
    );
    const summary = text.trim();
    return summary ? summary.slice(0, MAX_SUMMARY_CHARS * 2) : fallback;
  } catch (err) {
    if (signal?.aborted) return fallback;
    logger.warn({ err: (err as Error).message }, 'LLM summary failed; using extractive summary');
    return fallback;
  }
}
