import { z } from 'zod';

/** OpenTelemetry traces: off unless an OTLP endpoint is set (then the SDK is loaded; never before). */
export const tracingConfig = z.strictObject({
  otlpEndpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'OTLP/HTTP (JSON) traces endpoint, e.g. http://otel-collector:4318/v1/traces. Unset: no tracing, and the ' +
        'OpenTelemetry SDK is not loaded.',
    ),
  serviceName: z
    .string()
    .min(1)
    .default('voicebot')
    .describe('`service.name` of the exported spans (tell instances or lines apart in the trace backend).'),
  exportTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(10_000)
    .describe('How long one export request may take before it is given up (spans in it are lost, calls are not).'),
});
export type TracingConfig = z.infer<typeof tracingConfig>;
