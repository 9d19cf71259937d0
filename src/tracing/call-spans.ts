import { trace, type Context, type Span, type Tracer, ROOT_CONTEXT } from '@opentelemetry/api';
import type { CallEvent, CallEventBus, TurnStages } from '../core/call-events.js';
import type { TraceIds } from './types.js';

/** Wall-clock milliseconds with sub-millisecond precision (span times). */
const nowMs = () => performance.timeOrigin + performance.now();

interface OpenCall {
  span: Span;
  ctx: Context;
  /** the intent of the turn being answered (the `intent` event comes before its `turn-latency`) */
  intent?: string;
  turn?: { span: Span; playout: Span };
}

/**
 * Builds each call's spans from its call events: `call` (answer to hangup), and per answered turn a `turn` span with
 * children `vad.end` (endpointing silence), `asr`, `nlu`, `tts.first_audio` (laid back to back, ending when the first
 * reply audio reached the leg, from the `turn-latency` event's stages) and `playout` (first reply audio until the bot
 * stops speaking: played out, or cut by the caller).
 */
export class CallSpans {
  readonly #tracer: Tracer;
  readonly #calls = new Map<string, OpenCall>();
  readonly #unsubscribe: () => void;

  constructor(tracer: Tracer, events: CallEventBus) {
    this.#tracer = tracer;
    this.#unsubscribe = events.subscribe((e) => this.#onEvent(e));
  }

  /** Calls with an open span (for tests: every call's spans end). */
  get openCalls(): number {
    return this.#calls.size;
  }

  startCall(callId: string, attributes: Record<string, string>): TraceIds {
    const span = this.#tracer.startSpan('call', { attributes: { 'voicebot.call_id': callId, ...attributes } });
    this.#calls.set(callId, { span, ctx: trace.setSpan(ROOT_CONTEXT, span) });
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  }

  #onEvent(e: CallEvent): void {
    const call = this.#calls.get(e.callId);
    if (!call) return;
    switch (e.type) {
      case 'intent':
        call.intent = e.intent ?? '(none)';
        break;
      case 'turn-latency':
        this.#endTurn(call, nowMs());
        call.turn = this.#turn(call, e.stages, e.totalMs);
        break;
      case 'state':
        if (e.from === 'speaking' && call.turn) {
          call.turn.playout.setAttribute('voicebot.interrupted', e.to === 'listening' && /barged/.test(e.cause));
          this.#endTurn(call, nowMs());
        }
        break;
      case 'escalation':
        call.span.addEvent('escalation', { 'voicebot.reason': e.reason, 'voicebot.target': e.target });
        break;
      case 'escalation-outcome':
        call.span.addEvent('escalation.outcome', { 'voicebot.outcome': e.outcome });
        break;
      case 'call-ended':
        this.#endTurn(call, nowMs());
        call.span.setAttribute('voicebot.outcome', e.record.outcome);
        call.span.end();
        this.#calls.delete(e.callId);
        break;
    }
  }

  /** The turn's stage spans, back to back, ending now (its first reply audio); `playout` stays open. */
  #turn(call: OpenCall, stages: TurnStages, totalMs: number): OpenCall['turn'] {
    const firstAudio = nowMs();
    let at = firstAudio - totalMs;
    const turn = this.#tracer.startSpan('turn', { startTime: at }, call.ctx);
    turn.setAttribute('voicebot.response_ms', totalMs);
    if (call.intent) turn.setAttribute('voicebot.intent', call.intent);
    const ctx = trace.setSpan(call.ctx, turn);
    const stage = (name: string, ms: number) => {
      const span = this.#tracer.startSpan(name, { startTime: at }, ctx);
      at += ms;
      span.end(at);
      return span;
    };
    stage('vad.end', stages.endpointingMs);
    stage('asr', stages.asrMs);
    stage('nlu', stages.nluMs).setAttribute('voicebot.intent', call.intent ?? '(none)');
    stage('tts.first_audio', stages.ttsMs);
    const playout = this.#tracer.startSpan('playout', { startTime: firstAudio }, ctx);
    return { span: turn, playout };
  }

  #endTurn(call: OpenCall, at: number): void {
    if (!call.turn) return;
    call.turn.playout.end(at);
    call.turn.span.end(at);
    call.turn = undefined;
  }

  /** Ends what is still open (shutdown mid-call): a partial trace beats a lost one. */
  close(): void {
    this.#unsubscribe();
    const at = nowMs();
    for (const call of this.#calls.values()) {
      this.#endTurn(call, at);
      call.span.setAttribute('voicebot.outcome', 'shutdown');
      call.span.end(at);
    }
    this.#calls.clear();
  }
}
