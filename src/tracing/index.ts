import type { CallEventBus } from '../core/call-events.js';
import type { Logger } from '../log/logger.js';
import type { TracingConfig } from './config.js';
import type { CallTracer } from './types.js';

export type { CallTracer, TraceIds } from './types.js';

/**
 * The call tracer when `tracing.otlpEndpoint` is set, else undefined. The OpenTelemetry SDK is imported only here,
 * dynamically: a bot without tracing never loads it, subscribes nothing and pays nothing per call.
 */
export async function createTracing(
  config: TracingConfig,
  events: CallEventBus,
  logger: Logger,
): Promise<CallTracer | undefined> {
  if (!config.otlpEndpoint) return undefined;
  const { OtlpCallTracer } = await import('./otlp.js');
  logger.info(
    { endpoint: safeUrl(config.otlpEndpoint), service: config.serviceName },
    'tracing: exporting spans over OTLP/HTTP',
  );
  return new OtlpCallTracer(
    { endpoint: config.otlpEndpoint, serviceName: config.serviceName, exportTimeoutMs: config.exportTimeoutMs },
    events,
    logger,
  );
}

/** The endpoint without credentials or query (either may hold a token), for the log. */
function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
