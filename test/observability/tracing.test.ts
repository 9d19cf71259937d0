/**
 * OpenTelemetry traces: a call's spans (call → turn → vad.end / asr / nlu / tts.first_audio / playout) arrive at a
 * loopback OTLP/HTTP receiver, decoded there; the call's log lines carry its trace id; tracing is off by default and
 * then loads and subscribes nothing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { CallEventBus } from '../../src/core/call-events.js';
import { createLogger } from '../../src/log/logger.js';
import { createTracing } from '../../src/tracing/index.js';
import { OtlpCallTracer } from '../../src/tracing/otlp.js';
import { SUPPORT_LINE, startCall } from '../dialog/harness.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { waitFor } from '../helpers/wait.js';

const silent = () => createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

/** A logger whose JSON lines are kept. */
function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger(
    { level: 'info', format: 'json', redactPhoneNumbers: false },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('tracing over OTLP/HTTP', () => {
  it('exports a call span with one turn span per answered turn and its stage spans; logs carry the trace id', async () => {
    receiver = await startOtlpReceiver();
    const { logger, lines } = memoryLogger();
    const h = startCall({
      deps: { configFile: SUPPORT_LINE, asrScript: ["hi, where's my order", "no that's all thanks"], logger },
      prepare: (deps) => {
        deps.tracer = new OtlpCallTracer(
          { endpoint: receiver!.url, serviceName: 'voicebot-test', exportTimeoutMs: 2000 },
          deps.events,
          silent(),
        );
      },
    });
    const tracer = h.deps.tracer!;
    await h.untilListening();
    await h.say();
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => h.leg.hungUpBy !== null);
    await h.done;
    await tracer.close(); // flushes
    const spans = receiver.spans;
    expect(
      receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json')),
    ).toBe(true);

    const call = spans.filter((s) => s.name === 'call');
    expect(call).toHaveLength(1);
    const root = call[0]!;
    expect(root.parentSpanId).toBe('');
    expect(root.resource['service.name']).toBe('voicebot-test');
    expect(root.attributes).toMatchObject({ 'voicebot.call_id': h.leg.id, 'voicebot.outcome': 'resolved' });
    expect(spans.every((s) => s.traceId === root.traceId)).toBe(true);

    // two answered turns (order question, goodbye), each with its five stages under it
    const latencies = h.events('turn-latency');
    const turns = spans.filter((s) => s.name === 'turn');
    expect(turns).toHaveLength(latencies.length);
    expect(turns).toHaveLength(2);
    for (const [i, turn] of turns.entries()) {
      expect(turn.parentSpanId).toBe(root.spanId);
      const children = spans.filter((s) => s.parentSpanId === turn.spanId);
      expect(children.map((s) => s.name)).toEqual(['vad.end', 'asr', 'nlu', 'tts.first_audio', 'playout']);
      const byName = Object.fromEntries(children.map((s) => [s.name, s]));
      const { stages, totalMs } = latencies[i]!;
      const ms = (name: string) => byName[name]!.endMs - byName[name]!.startMs;
      expect(ms('vad.end')).toBeCloseTo(stages.endpointingMs, 0);
      expect(ms('asr')).toBeCloseTo(stages.asrMs, 0);
      expect(ms('nlu')).toBeCloseTo(stages.nluMs, 0);
      expect(ms('tts.first_audio')).toBeCloseTo(stages.ttsMs, 0);
      // back to back: the response time ends where playout begins
      expect(byName['playout']!.startMs - turn.startMs).toBeCloseTo(totalMs, 0);
      expect(ms('playout')).toBeGreaterThan(0);
      expect(byName['playout']!.endMs).toBeLessThanOrEqual(root.endMs);
      expect(turn.endMs).toBeCloseTo(byName['playout']!.endMs, 3);
    }
    expect(turns[0]!.attributes['voicebot.intent']).toBe('order_status');
    expect(turns[1]!.attributes['voicebot.intent']).toBe('goodbye');

    // every line of the call names the trace and the call span
    const callLines = lines.filter((l) => l['callId'] === h.leg.id);
    expect(callLines.length).toBeGreaterThan(5);
    expect(callLines.every((l) => l['trace_id'] === root.traceId && l['span_id'] === root.spanId)).toBe(true);
  });

  it('a caller who barges in ends the playout span there, marked interrupted', async () => {
    receiver = await startOtlpReceiver();
    const h = startCall({
      deps: { configFile: SUPPORT_LINE, asrScript: ["hi, where's my order", 'cancel my order'] },
      prepare: (deps) => {
        deps.tracer = new OtlpCallTracer(
          { endpoint: receiver!.url, serviceName: 'voicebot', exportTimeoutMs: 2000 },
          deps.events,
          silent(),
        );
      },
    });
    await h.untilListening();
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => h.events('turn-latency').length === 1);
    await h.leg.feedTone(900); // talks over the reply
    await h.leg.pumpUntil(() => h.states().some((s) => s.cause === 'caller barged in'));
    h.leg.hangupByCaller();
    await h.done;
    await h.deps.tracer!.close();
    const playouts = receiver.spans.filter((s) => s.name === 'playout');
    expect(playouts.length).toBeGreaterThanOrEqual(1);
    expect(playouts[0]!.attributes['voicebot.interrupted']).toBe(true);
  });

  it('exportTimeoutMs bounds a stuck collector: close() returns, the call was never held up', async () => {
    receiver = await startOtlpReceiver({ hang: true });
    const { logger, lines } = memoryLogger();
    const events = new CallEventBus();
    const tracer = new OtlpCallTracer(
      { endpoint: receiver.url, serviceName: 'v', exportTimeoutMs: 300 },
      events,
      logger,
    );
    tracer.startCall('c1', {});
    const started = performance.now();
    await tracer.close();
    const took = performance.now() - started;
    expect(receiver.requests.length).toBeGreaterThanOrEqual(1); // it did try
    expect(took).toBeLessThan(2000);
    expect(took).toBeGreaterThanOrEqual(250);
    await waitFor(() => lines.some((l) => l['level'] === 40), 2000, 'the shutdown warning');
  });
});

describe('tracing off (the default)', () => {
  it('has no endpoint, builds no tracer and subscribes nothing to the call events', async () => {
    const config = loadConfig({ env: {}, overrides: {} });
    expect(config.tracing.otlpEndpoint).toBeUndefined();
    const events = new CallEventBus();
    expect(await createTracing(config.tracing, events, silent())).toBeUndefined();
    expect(events.listenerCount).toBe(0);
  });

  it('the OpenTelemetry SDK is imported only by src/tracing/otlp.ts and call-spans.ts, which load only when on', () => {
    const importers: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ts$/.test(e.name) && /from '@opentelemetry\//.test(readFileSync(p, 'utf8'))) importers.push(p);
      }
    };
    walk('src');
    expect(importers.sort()).toEqual(['src/tracing/call-spans.ts', 'src/tracing/otlp.ts']);
    const index = readFileSync('src/tracing/index.ts', 'utf8');
    expect(index).toMatch(/await import\('\.\/otlp\.js'\)/);
    expect(index).not.toMatch(/^import [^t].*otlp|^import \{.*\} from '\.\/(otlp|call-spans)/m);
  });

  it('a bad endpoint stops start-up naming the key', () => {
    expect(() => loadConfig({ env: {}, overrides: { tracing: { otlpEndpoint: 'collector:4318' } } })).toThrow(
      /tracing\.otlpEndpoint/,
    );
  });
});
