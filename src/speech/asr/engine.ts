/** What one recognition pass of a provider returns (the streaming layer adds `final` and timings). */
export interface Recognition {
  text: string;
  confidence: number;
  language: string;
  processingMs: number;
  queueMs: number;
  /** tokens the decoder produced (providers that report it) */
  decodedTokens?: number;
}

export interface RecognizeOptions {
  final: boolean;
  /** queue it ahead of previews, like a final (a recognition that will likely be the final) */
  urgent?: boolean;
  prompt?: string;
  signal?: AbortSignal;
}

/** One ASR provider: recognises a whole utterance buffer. Partial results are the streaming layer's job. */
export interface AsrEngine {
  readonly provider: string;
  /** false for providers that only return a final result (HTTP servers) */
  readonly partials: boolean;
  /** true when a new request would have to wait (partials are skipped then) */
  readonly busy: boolean;
  recognize(pcm16k: Int16Array, options: RecognizeOptions): Promise<Recognition>;
  close(): Promise<void>;
}
