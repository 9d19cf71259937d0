import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { CallEventBus } from '../core/call-events.js';
import type { Logger } from '../log/logger.js';
import { CallSpans } from './call-spans.js';
import type { CallTracer, TraceIds } from './types.js';

export interface OtlpOptions {
  endpoint: string;
  serviceName: string;
  exportTimeoutMs: number;
}

/** Spans are batched and sent in the background; a slow or dead collector costs spans, never call time. */
const BATCH_DELAY_MS = 1_000;

/** The OpenTelemetry SDK wired for the bot: its own provider (no global registration), OTLP/HTTP JSON export. */
export class OtlpCallTracer implements CallTracer {
  readonly #provider: BasicTracerProvider;
  readonly #spans: CallSpans;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(opts: OtlpOptions, events: CallEventBus, logger: Logger) {
    this.#timeoutMs = opts.exportTimeoutMs;
    this.#logger = logger;
    const exporter = new OTLPTraceExporter({ url: opts.endpoint, timeoutMillis: opts.exportTimeoutMs });
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
      spanProcessors: [
        new BatchSpanProcessor(exporter, {
          scheduledDelayMillis: BATCH_DELAY_MS,
          exportTimeoutMillis: opts.exportTimeoutMs,
        }),
      ],
    });
    this.#spans = new CallSpans(this.#provider.getTracer('voicebot'), events);
  }

  startCall(callId: string, attributes: Record<string, string>): TraceIds {
    return this.#spans.startCall(callId, attributes);
  }

  async close(): Promise<void> {
    this.#spans.close();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#provider.shutdown(),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error('span export did not finish in time')), this.#timeoutMs);
        }),
      ]);
    } catch (err) {
      this.#logger.warn({ err }, 'tracing: spans not flushed at shutdown');
    } finally {
      clearTimeout(timer);
    }
  }
}
