import type { Secret } from '../../config/secret.js';
import { deadline } from '../../core/deadline.js';
import { VoicebotError, type ErrorKind } from '../../core/errors.js';

/** Minimal OpenAI-compatible chat client (Ollama, vLLM, llama.cpp server, OpenAI …). */
export interface ChatClientOptions {
  baseUrl: string;
  apiKey?: Secret | undefined;
  model: string;
  timeoutMs: number;
  temperature?: number;
  fetch?: typeof fetch;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type ChatFailure = 'timeout' | 'aborted' | 'http' | 'network' | 'malformed';

export class ChatError extends VoicebotError {
  constructor(
    readonly reason: ChatFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, { kind: CHAT_KINDS[reason], ...options });
  }
}

const CHAT_KINDS: Record<ChatFailure, ErrorKind> = {
  http: 'unavailable',
  timeout: 'timeout',
  aborted: 'timeout',
  network: 'unavailable',
  malformed: 'protocol',
};

export class ChatClient {
  constructor(readonly options: ChatClientOptions) {}

  /** Returns the assistant message text. Throws ChatError; never hangs longer than `timeoutMs`. */
  async complete(
    messages: ChatMessage[],
    extra: { responseFormat?: unknown; maxTokens?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const { baseUrl, apiKey, model, timeoutMs, temperature = 0 } = this.options;
    const limit = deadline(timeoutMs, extra.signal);
    const signal = limit.signal;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey.reveal()}`;
    const body: Record<string, unknown> = { model, messages, temperature, stream: false };
    if (extra.responseFormat) body.response_format = extra.responseFormat;
    if (extra.maxTokens) body.max_tokens = extra.maxTokens;
    const doFetch = this.options.fetch ?? fetch;
    let text: string;
    try {
      const res = await doFetch(`${baseUrl.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal,
      });
      text = await res.text();
      if (!res.ok) throw new ChatError('http', `chat API answered ${res.status}: ${text.slice(0, 200)}`);
    } catch (err) {
      if (err instanceof ChatError) throw err;
      if (limit.timedOut) throw new ChatError('timeout', `chat API timed out after ${timeoutMs} ms`, { cause: err });
      if (extra.signal?.aborted) throw new ChatError('aborted', 'chat request aborted', { cause: err });
      throw new ChatError('network', `chat API unreachable: ${(err as Error).message}`, { cause: err });
    } finally {
      limit.dispose();
    }
    let content: unknown;
    try {
      const json = JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> };
      content = json.choices?.[0]?.message?.content;
    } catch (err) {
      throw new ChatError('malformed', 'chat API answer is not JSON', { cause: err });
    }
    if (typeof content !== 'string')
      throw new ChatError('malformed', 'chat API answer has no choices[0].message.content');
    return content;
  }
}
