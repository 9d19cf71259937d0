import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { CallEventBus } from '../core/call-events.js';
import type { CallRecord, CallRecordEvent, CallRecordSink } from '../core/call-record.js';
import { callLogger, type Logger } from '../log/logger.js';
import type { SessionStore } from '../session/store.js';
import type { Asr, Tts, VadFactory } from '../speech/types.js';
import type { CallLeg } from '../telephony/port.js';
import { AsyncQueue } from '../core/async-queue.js';
import { EchoGuard } from '../speech/echo/echo-guard.js';
import { AudioInput } from './audio-input.js';
import { CallContext } from './call-context.js';
import { Conversation, type CallInput } from './conversation.js';
import { dialogMetrics, type DialogMetrics } from './metrics.js';
import { chatClientFor, createIntentDetector, type IntentDetector } from './nlu/index.js';
import { PromptPlayer } from './prompt-player.js';
import { SessionSaver } from './session-saver.js';
import { DialogStateMachine } from './state-machine.js';
import { summarise } from './summary.js';

export interface CallCoreDeps {
  config: Config;
  /** app logger; the core makes a per-call child */
  logger: Logger;
  vad: VadFactory;
  asr: Asr;
  tts: Tts;
  records: CallRecordSink;
  sessions: SessionStore;
  events: CallEventBus;
  metrics: Registry;
  /** default: built from config (rules, + LLM when dialog.llm.enabled) */
  nlu?: IntentDetector;
}

/** Why the call's AbortController fired. */
export class CallEnded extends Error {
  constructor(readonly why: 'hangup' | 'shutdown' | 'finished') {
    super(`call ended (${why})`);
    this.name = 'CallEnded';
  }
}

const ASR_FINAL_TIMEOUT_MS = 15_000;
const RECORD_SUBMIT_TIMEOUT_MS = 10_000;
const LEG_HANGUP_TIMEOUT_MS = 5_000;

/** Runs one call from answer to hangup. Never throws: errors end that call only. Resolves with the final CallRecord. */
export async function runCall(leg: CallLeg, deps: CallCoreDeps, signal?: AbortSignal): Promise<CallRecord> {
  const cfg = deps.config.dialog;
  const log = callLogger(deps.logger, leg.id, { backend: leg.backend });
  const metrics = dialogMetrics(deps.metrics);
  const controller = new AbortController();
  const callSignal = controller.signal;
  const ctx = new CallContext(leg, (entry, partial) =>
    deps.events.publish({ type: 'transcript', callId: leg.id, entry: { ...entry }, ...(partial ? { partial } : {}) }),
  );
  const saver = new SessionSaver(deps.sessions, ctx, log);
  const machine = new DialogStateMachine((t) => {
    log.info({ from: t.from, to: t.to, event: t.event.type, detail: t.event.detail }, 'state');
    deps.events.publish({
      type: 'state',
      callId: leg.id,
      from: t.from,
      to: t.to,
      cause: t.event.detail ?? t.event.type,
    });
    saver.save(t.to);
  });
  const submitRecord = async (event: CallRecordEvent, record: CallRecord) => {
    try {
      await deps.records.submit(event, record, AbortSignal.timeout(RECORD_SUBMIT_TIMEOUT_MS));
    } catch (err) {
      metrics.errors.inc({ stage: 'records' });
      log.error({ err, event }, 'call record submission failed');
    }
  };

  const summaryChat = cfg.llm.enabled && cfg.llm.summary ? chatClientFor(cfg.llm) : undefined;
  const inputs = new AsyncQueue<CallInput>();
  const player = new PromptPlayer(leg, deps.tts, log);
  let callerHungUp = false;
  const onHangup = (reason: string) => {
    if (callerHungUp || machine.ended) return;
    callerHungUp = true;
    machine.dispatch({ type: 'hangup', detail: `caller hung up: ${reason}` });
    controller.abort(new CallEnded('hangup'));
  };
  const onDtmf = (digit: string) => {
    if (machine.ended) return;
    ctx.transcript.note('caller', `[DTMF ${digit}]`);
    // the escalation digit cuts the bot short; other digits wait their turn (and are only noted)
    if (digit === cfg.escalateDigit && player.interrupt()) {
      metrics.bargeIns.inc();
      ctx.bargeIn.interruptions++;
    }
    inputs.push({ kind: 'dtmf', digit });
  };
  const onShutdown = () => controller.abort(new CallEnded('shutdown'));
  const unsubscribe = deps.events.subscribe((e) => {
    if (e.callId !== leg.id) return;
    if (e.type === 'ticket') ctx.ticketId = e.ticketId;
    if (e.type === 'recording') ctx.recording = { path: e.path, format: e.path.split('.').pop() ?? 'wav' };
  });

  metrics.activeCalls.inc();
  leg.on('hangup', onHangup);
  leg.on('dtmf', onDtmf);
  if (signal?.aborted) onShutdown();
  else signal?.addEventListener('abort', onShutdown, { once: true });
  deps.events.publish({
    type: 'call-started',
    callId: leg.id,
    phone: leg.from,
    backend: leg.backend,
    at: ctx.startedAt.toISOString(),
  });
  log.info({ from: leg.from, to: leg.to, direction: leg.direction }, 'call started');

  let failed = false;
  let audio: AudioInput | undefined;
  try {
    machine.dispatch({ type: 'start' });
    callSignal.throwIfAborted();
    audio = createAudioInput({ leg, deps, ctx, player, inputs, log, metrics, signal: callSignal });
    audio.start();
    const conversation = new Conversation({
      config: cfg,
      leg,
      ctx,
      machine,
      player,
      inputs,
      nlu: deps.nlu ?? createIntentDetector(cfg, log, deps.metrics),
      chat: summaryChat,
      events: deps.events,
      metrics,
      logger: log,
      signal: callSignal,
      submitRecord,
    });
    await conversation.run();
  } catch (err) {
    if (!callSignal.aborted) {
      failed = true;
      metrics.errors.inc({ stage: 'call' });
      log.error({ err }, 'call failed');
      if (!machine.ended) machine.dispatch({ type: 'error', detail: (err as Error).message });
    }
  } finally {
    const why = callSignal.reason as unknown;
    if (!machine.ended) {
      machine.dispatch({ type: 'botHangup', detail: why instanceof CallEnded ? why.why : 'ended' });
    }
    controller.abort(new CallEnded('finished'));
    leg.off('hangup', onHangup);
    leg.off('dtmf', onDtmf);
    signal?.removeEventListener('abort', onShutdown);
    inputs.end();
    await audio?.close();
    const echo = audio?.echoStats;
    if (echo) {
      ctx.bargeIn.suspectedEcho = echo.suspectedEcho;
      metrics.suspectedEcho.inc(echo.suspectedEcho);
      log.info(echo, 'echo');
    }
  }

  // The bot ends the leg unless the caller already did or a person took the call.
  if (!callerHungUp && !ctx.transferred) await hangupLeg(leg, failed ? 'error' : 'bot', log);
  unsubscribe();

  const outcome = ctx.finalOutcome(failed);
  const summary = await summarise(
    {
      intent: ctx.intent,
      slots: ctx.slots,
      transcript: ctx.transcript.entries,
      escalationReason: ctx.escalation?.reason,
    },
    summaryChat,
    log,
  );
  const record = ctx.toRecord(outcome, summary, true, cfg.lowConfidence);
  await submitRecord('end', record);
  deps.events.publish({ type: 'call-ended', callId: leg.id, record });
  await saver.finish();
  metrics.calls.inc({ outcome });
  metrics.activeCalls.dec();
  log.info({ outcome, durationMs: record.durationMs, intent: record.intent }, 'call ended');
  return record;
}

interface AudioInputWiring {
  leg: CallLeg;
  deps: CallCoreDeps;
  ctx: CallContext;
  player: PromptPlayer;
  inputs: AsyncQueue<CallInput>;
  log: Logger;
  metrics: DialogMetrics;
  signal: AbortSignal;
}

/** Caller audio → echo guard → VAD → ASR, connected to the prompt player (barge-in) and the input queue. */
function createAudioInput({ leg, deps, ctx, player, inputs, log, metrics, signal }: AudioInputWiring): AudioInput {
  const { vad: vadConfig, echo: echoConfig } = deps.config.speech;
  return new AudioInput({
    leg,
    vad: deps.vad.create(),
    ...(echoConfig.enabled ? { echo: new EchoGuard(echoConfig, leg.inputSampleRate, leg.outputSampleRate) } : {}),
    minInterruptionWords: deps.config.dialog.interruption.minWords,
    asr: deps.asr,
    logger: log,
    metrics,
    signal,
    preRollMs: vadConfig.preRollMs,
    minSpeechMs: vadConfig.minSpeechMs,
    asrTimeoutMs: ASR_FINAL_TIMEOUT_MS,
    hooks: {
      clockMs: () => ctx.elapsedMs(),
      onAudio: (ms) => ctx.addAudio(ms),
      activePrompt: () => player.current,
      onInterruption: () => {
        if (!player.interrupt()) return;
        metrics.bargeIns.inc();
        ctx.bargeIn.interruptions++;
      },
      onUtterance: (u) => inputs.push({ kind: 'utterance', ...u }),
      onFalseInterruption: () => inputs.push({ kind: 'false-interruption' }),
      onMilestone: (milestone) => deps.events.publish({ type: 'turn', callId: leg.id, milestone }),
      onPartial: (text) =>
        deps.events.publish({
          type: 'transcript',
          callId: leg.id,
          entry: { speaker: 'caller', text, atMs: Math.round(ctx.elapsedMs()) },
          partial: true,
        }),
    },
  });
}

async function hangupLeg(leg: CallLeg, reason: string, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      leg.hangup(reason),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error('leg.hangup timed out')), LEG_HANGUP_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    log.warn({ err }, 'leg hangup failed');
  } finally {
    clearTimeout(timer);
  }
}
