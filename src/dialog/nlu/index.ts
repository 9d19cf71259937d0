import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import type { DialogConfig } from '../config.js';
import { dialogMetrics } from '../metrics.js';
import { ChatClient } from './chat-client.js';
import { LlmIntentDetector } from './llm.js';
import { RuleIntentDetector } from './rules.js';
import type { IntentDetector } from './types.js';

export type { IntentDetector } from './types.js';
export { RuleIntentDetector } from './rules.js';
export { LlmIntentDetector } from './llm.js';
export { ChatClient } from './chat-client.js';

export function chatClientFor(llm: DialogConfig['llm']): ChatClient {
  return new ChatClient({
    baseUrl: llm.baseUrl,
    apiKey: llm.apiKey,
    model: llm.model,
    timeoutMs: llm.timeoutMs,
    temperature: llm.temperature,
  });
}

/** Rules always; the LLM in front of them when `dialog.llm.enabled`. */
export function createIntentDetector(config: DialogConfig, logger: Logger, metrics?: Registry): IntentDetector {
  const rules = new RuleIntentDetector(config.intents);
  if (!config.llm.enabled) return rules;
  const m = metrics ? dialogMetrics(metrics) : undefined;
  return new LlmIntentDetector(chatClientFor(config.llm), rules, config, logger.child({ component: 'nlu' }), (reason) =>
    m?.nluFallbacks.inc({ reason }),
  );
}
