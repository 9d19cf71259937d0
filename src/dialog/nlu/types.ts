/** Intent detection port: rules, LLM, or both (LLM first, rules as fallback). */
export interface IntentResult {
  /** configured intent name, or null when nothing matched */
  intent: string | null;
  /** 0..1 */
  confidence: number;
  slots: Record<string, string>;
  /** the intent is marked `escalate` in config, or the LLM asked for a person */
  escalate: boolean;
  /** free reply suggested by the LLM (used when the intent has no response template) */
  reply?: string;
  source: 'rules' | 'llm';
}

export interface DetectContext {
  signal?: AbortSignal;
  /** intent of the previous turn, so a bare answer ("one two three four") can fill its missing slot */
  previousIntent?: string | null;
  /** recent transcript lines, oldest first, for the LLM */
  history?: Array<{ speaker: 'caller' | 'bot' | 'agent'; text: string }>;
}

export interface IntentDetector {
  detect(text: string, context?: DetectContext): Promise<IntentResult>;
}
