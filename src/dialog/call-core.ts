import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { CallEventBus } from '../core/call-events.js';
import type { CallRecord, CallRecordEvent, CallRecordSink } from '../core/call-record.js';
import { callLogger, type Logger } from '../log/logger.js';
import type { CallSession, SessionStore } from '../session/store.js';
import { HeldLease, type LeaseStore } from '../session/lease.js';
import type { Asr, Tts, VadFactory } from '../speech/types.js';
import type { CallLeg } from '../telephony/port.js';
import type { CallTracer } from '../tracing/types.js';
import { defaultInstanceId } from '../session/owner.js';
import { AsyncQueue } from '../core/async-queue.js';
import { EchoStage } from '../speech/echo/echo-stage.js';
import { OnsetCue } from '../speech/echo/onset-cue.js';
import { awaitsEndAfterHandOff, dialogState } from './dialog-state.js';
import { systemClock, type Clock } from '../core/clock.js';
import { TurnTimers } from './turn-timers.js';
import { transcribeAfterHandOff } from './after-hand-off.js';
import { AudioInput, VAD_RATE } from './audio-input.js';
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
  /** this process in the session store's owner field (default: host:pid) */
  instanceId?: string;
  /** per-call ownership leases (several instances on one Redis); absent: none */
  leases?: LeaseStore;
  /** the clock the call's timers run on (no-input, call limit, longest turn, ASR grace, transfer ring); default: system */
  clock?: Clock;
  /** per-call traces (tracing.otlpEndpoint); absent: off */
  tracer?: CallTracer;
}

/** Why the call's AbortController fired. `detach`: this process stops serving the call without ending it. */
export class CallEnded extends Error {
  constructor(readonly why: 'hangup' | 'shutdown' | 'finished' | 'detach') {
    super(`call ended (${why})`);
    this.name = 'CallEnded';
  }
}

/**
 * Abort `runCall`'s signal with this reason to detach the call: the bot stops serving it, leaves the leg up, submits
 * no end record and leaves the call's state in the session store with no owner, for `runCall` to resume (here or in
 * another process). Any other reason ends the call (shutdown).
 */
export function detachReason(): CallEnded {
  return new CallEnded('detach');
}

const isDetach = (reason: unknown) => reason instanceof CallEnded && reason.why === 'detach';

export interface RunCallOptions {
  /**
   * A stored call to take up. Default: the session store is asked for `leg.id`; a live call stored there (detached,
   * or its process died) is resumed instead of greeted.
   */
  resume?: CallSession | null;
}

export { defaultInstanceId };

const RECORD_SUBMIT_TIMEOUT_MS = 10_000;
/** Bound on the look-up of a stored call at answer: a slow store delays a greeting this much at most. */
const RESUME_LOOKUP_TIMEOUT_MS = 1_000;
const LEG_HANGUP_TIMEOUT_MS = 5_000;
/**
 * After the fast onset cue stopped the bot, Silero's speech start must come within this (its onset lag is ~1 s at
 * worst), or the cue was a noise and the prompt resumes. (At 800 ms, callers whose first words Silero took 0.8-1 s to
 * call speech had their prompt resumed over them: 1 in 40 greetings interrupted on the bench's 300 ms lines and on its
 * line without echo.)
 */
const ONSET_CONFIRM_MS = 1200;

/** Runs one call from answer to hangup. Never throws: errors end that call only. Resolves with the final CallRecord. */
export async function runCall(
  leg: CallLeg,
  deps: CallCoreDeps,
  signal?: AbortSignal,
  options: RunCallOptions = {},
): Promise<CallRecord> {
  const cfg = deps.config.dialog;
  // the trace starts before the first log line, so every line of the call carries its trace id
  const traceIds = deps.tracer?.startCall(leg.id, {
    'voicebot.backend': leg.backend,
    'voicebot.direction': leg.direction,
  });
  const log = callLogger(deps.logger, leg.id, { backend: leg.backend, ...traceIds });
  const metrics = dialogMetrics(deps.metrics);
  const controller = new AbortController();
  const callSignal = controller.signal;
  const ctx = new CallContext(leg, (entry, partial) =>
    deps.events.publish({ type: 'transcript', callId: leg.id, entry: { ...entry }, ...(partial ? { partial } : {}) }),
  );
  const saver = new SessionSaver(deps.sessions, ctx, log, {
    owner: deps.instanceId ?? defaultInstanceId,
    onLost: () => controller.abort(detachReason()),
  });
  const clock = deps.clock ?? systemClock;
  const inputs = new AsyncQueue<CallInput>();
  let audio: AudioInput | undefined;
  const timers = new TurnTimers(clock, (input) => {
    if (input.timer !== 'monologue') return inputs.push(input);
    timers.current(input);
    if (audio?.cutTurn()) log.info({ maxMonologueSec: cfg.maxMonologueSec }, 'caller turn cut at the longest turn');
  });
  const machine = new DialogStateMachine((t) => {
    // silence counts only while the bot listens and nobody speaks
    if (t.to === 'listening' && !audio?.capturing) timers.arm('noInput', cfg.noInput.timeoutSec * 1000);
    else if (t.to !== 'listening') timers.disarm('noInput');
    if (t.to === 'ended') timers.close();
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
    ctx.submitted.add(event);
    try {
      await deps.records.submit(event, record, AbortSignal.timeout(RECORD_SUBMIT_TIMEOUT_MS));
    } catch (err) {
      metrics.errors.inc({ stage: 'records' });
      log.error({ err, event }, 'call record submission failed');
    }
  };

  const summaryChat = cfg.llm.enabled && cfg.llm.summary ? chatClientFor(cfg.llm) : undefined;
  const player = new PromptPlayer(leg, deps.tts, log);
  let callerHungUp = false;
  let legGone!: () => void;
  /**
   * the leg's hangup (or hand-over), whenever it comes: after a listening hand-off the dialog has ended, the call
   * has not, and this ends the listening
   */
  const legHungUp = new Promise<void>((resolve) => (legGone = resolve));
  let handedOver = false;
  const onDetach = (reason: string) => {
    legGone();
    if (callerHungUp || machine.ended) return;
    handedOver = true;
    log.info({ reason }, 'the backend hands the call over');
    controller.abort(detachReason());
  };
  const onHangup = (reason: string) => {
    legGone();
    if (callerHungUp || handedOver || machine.ended) return;
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
  const onShutdown = () => controller.abort(isDetach(signal?.reason) ? detachReason() : new CallEnded('shutdown'));
  const unsubscribe = deps.events.subscribe((e) => {
    if (e.callId !== leg.id) return;
    if (e.type === 'ticket') ctx.ticketId = e.ticketId;
    if (e.type === 'recording') ctx.recording = { path: e.path, format: e.path.split('.').pop() ?? 'wav' };
  });

  // listen from the first moment (a key pressed while the store is asked is not lost)
  const answeredAt = clock.now();
  metrics.activeCalls.inc();
  leg.on('hangup', onHangup);
  leg.on('detach', onDetach);
  leg.on('dtmf', onDtmf);
  if (signal?.aborted) onShutdown();
  else signal?.addEventListener('abort', onShutdown, { once: true });
  // a call whose caller left before the core got it (while another process's call was taken over) is only recorded
  if (leg.ended) onHangup('caller hung up before the bot took the call');
  const stopListening = () => {
    leg.off('hangup', onHangup);
    leg.off('detach', onDetach);
    leg.off('dtmf', onDtmf);
    signal?.removeEventListener('abort', onShutdown);
  };

  const stored = options.resume === undefined ? await findResumable(deps.sessions, leg.id, log) : options.resume;
  const resumed = stored ? dialogState.safeParse(stored.dialog) : undefined;
  if (stored && resumed && !resumed.success) {
    log.warn({ issues: resumed.error.issues.slice(0, 3) }, 'stored call state unreadable: starting the call afresh');
  }
  // a caller who hung up meanwhile still gets the stored story in the record (and the one end record)
  const resumeFrom = stored && resumed?.success ? { session: stored, dialog: resumed.data } : undefined;
  if (stored && !resumeFrom) saver.inherit(stored);
  // handed to a person before it came here (its process died while the bot listened): no turns, only its end
  const handedOff = awaitsEndAfterHandOff(resumeFrom?.session);
  // the lease says a process is alive and serving the call; a resumed call needs it before it may claim the state
  const lease = await holdLease(deps, leg.id, clock, log, () => controller.abort(detachReason()));
  if (resumeFrom) {
    ctx.restore(resumeFrom.dialog, resumeFrom.session.startedAt);
    if (lease === null || !(await saver.claim(resumeFrom.session, handedOff ? 'ended' : 'thinking'))) {
      log.info({ owner: resumeFrom.session.owner }, 'another process holds the call; leaving it');
      await lease?.release();
      await leg.detach?.();
      stopListening();
      unsubscribe();
      metrics.activeCalls.dec();
      return ctx.toRecord('in-progress', '', false, cfg.lowConfidence);
    }
  }

  deps.events.publish({
    type: 'call-started',
    callId: leg.id,
    phone: leg.from,
    backend: leg.backend,
    at: ctx.startedAt.toISOString(),
  });
  if (resumeFrom) {
    metrics.resumed.inc();
    log.info(
      { from: leg.from, previousOwner: resumeFrom.session.owner || null, state: resumeFrom.session.state },
      'call resumed',
    );
  } else log.info({ from: leg.from, to: leg.to, direction: leg.direction }, 'call started');

  let failed = false;
  let detached = false;
  try {
    if (handedOff) {
      // handed to a person before it came here (the process that served it died while the bot listened): the bot
      // says nothing and takes no turns; it listens (where the leg still hears the two parties) until the call
      // ends, then writes the record that process could not
      ctx.listeningAfterHandOff = true;
      log.info('handed-off call taken over: listening until it ends');
    } else {
      if (resumeFrom) machine.dispatch({ type: 'resume', detail: `resumed (was ${resumeFrom.session.state})` });
      else machine.dispatch({ type: 'start' });
      callSignal.throwIfAborted();
      armCallLimit(timers, cfg, resumeFrom ? ctx.elapsedMs() : clock.now() - answeredAt);
      const onDiscarded = () => {
        if (machine.state === 'listening') timers.arm('noInput', cfg.noInput.timeoutSec * 1000);
      };
      audio = createAudioInput({
        ...{ leg, deps, ctx, player, inputs, log, metrics, timers, clock, onDiscarded },
        signal: callSignal,
      });
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
        timers,
        clock,
        submitRecord,
        listenAfterHandOff: deps.config.telephony.agentStaysSilent,
      });
      await conversation.run(resumeFrom !== undefined);
    }
    if (ctx.listeningAfterHandOff) {
      // the bot's turn-taking is over (no silence or call-limit prompts either); the people on the line go on
      // into the transcript until the call ends
      timers.close();
      await audio?.close();
      await transcribeAfterHandOff({
        leg,
        ctx,
        vad: deps.vad,
        asr: deps.asr,
        logger: log,
        metrics,
        preRollMs: deps.config.speech.vad.preRollMs,
        minSpeechMs: deps.config.speech.vad.minSpeechMs,
        asrTimeoutMs: cfg.asrFinalGraceMs,
        legGone: legHungUp,
        signal: callSignal,
      });
    }
  } catch (err) {
    if (!callSignal.aborted) {
      failed = true;
      metrics.errors.inc({ stage: 'call' });
      log.error({ err }, 'call failed');
      if (!machine.ended) machine.dispatch({ type: 'error', detail: (err as Error).message });
    }
  } finally {
    const why = callSignal.reason as unknown;
    detached = isDetach(why) && !callerHungUp && !machine.ended;
    if (!machine.ended && !detached) {
      // a handed-off call taken over never left `idle` here: it can only end
      const type = machine.can('botHangup') ? 'botHangup' : 'hangup';
      machine.dispatch({ type, detail: why instanceof CallEnded ? why.why : 'ended' });
    }
    controller.abort(new CallEnded('finished'));
    timers.close();
    stopListening();
    inputs.end();
    await audio?.close();
    const echo = audio?.echoStats;
    if (echo) {
      ctx.bargeIn.suspectedEcho = echo.suspectedEcho;
      metrics.suspectedEcho.inc(echo.suspectedEcho);
      log.info(echo, 'echo');
    }
  }

  if (detached) {
    // not an end: the leg stays up, no record, the state waits in the store for whoever resumes the call
    unsubscribe();
    await saver.release(handedOff ? 'ended' : (machine.state ?? 'listening'));
    await lease?.release();
    // this process lets go, the call goes on: the leg releases only what it holds here (never a hangup)
    await leg.detach?.();
    metrics.activeCalls.dec();
    metrics.detached.inc();
    log.info({ state: machine.state, lostToAnotherProcess: saver.lost }, 'call detached');
    return ctx.toRecord('in-progress', '', false, cfg.lowConfidence);
  }

  // The bot ends the leg unless the caller already did or a person took the call. A handed-off call the bot still
  // listens to and that is not over (shutdown): the leg lets go of the bot's side only.
  if (!callerHungUp && !ctx.transferred) await hangupLeg(leg, failed ? 'error' : 'bot', log);
  else if (ctx.listeningAfterHandOff && !(await settled(legHungUp))) await hangupLeg(leg, 'bot', log);
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
  await lease?.release();
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
  timers: TurnTimers;
  clock: Clock;
  /** a caller turn came to nothing (cough, empty recognition) */
  onDiscarded(): void;
}

/** The call limit's warning and end, counted from the call's start (`elapsedMs` in: a resumed call's time so far). */
function armCallLimit(timers: TurnTimers, cfg: CallCoreDeps['config']['dialog'], elapsedMs: number): void {
  const { durationSec, warningSec } = cfg.maxCall;
  if (durationSec <= 0) return;
  if (warningSec > 0 && warningSec < durationSec)
    timers.arm('callTimeWarning', Math.max(1, (durationSec - warningSec) * 1000 - elapsedMs));
  timers.arm('callTimeLimit', Math.max(1, durationSec * 1000 - elapsedMs));
}

/** Caller audio → echo guard → VAD → ASR, connected to the prompt player (barge-in), the input queue and the turn timers. */
function createAudioInput(w: AudioInputWiring): AudioInput {
  const { leg, deps, ctx, player, inputs, log, metrics, signal, timers, clock } = w;
  const cfg = deps.config.dialog;
  const { vad: vadConfig, echo: echoConfig } = deps.config.speech;
  const echo = echoConfig.enabled ? new EchoStage(echoConfig, leg.inputSampleRate, leg.outputSampleRate) : null;
  return new AudioInput({
    leg,
    vad: deps.vad.create(),
    ...(echo ? { echo } : {}),
    ...(echo && echoConfig.fastOnset
      ? {
          onsetCue: {
            cue: new OnsetCue(VAD_RATE, vadConfig.interruptionMs, () => echo.settled),
            confirmMs: ONSET_CONFIRM_MS,
          },
        }
      : {}),
    minInterruptionWords: cfg.interruption.minWords,
    asr: deps.asr,
    logger: log,
    metrics,
    signal,
    preRollMs: vadConfig.preRollMs,
    minSpeechMs: vadConfig.minSpeechMs,
    asrTimeoutMs: cfg.asrFinalGraceMs,
    timers: clock,
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
      onMilestone: (milestone) => {
        if (milestone.step === 'speech-start') {
          timers.disarm('noInput');
          timers.arm('monologue', cfg.maxMonologueSec * 1000);
        } else if (milestone.step === 'speech-end' || milestone.step === 'discarded') {
          timers.disarm('monologue');
          // a cough or an unrecognisable turn: the silence clock starts again
          if (milestone.step === 'discarded') w.onDiscarded();
        }
        deps.events.publish({ type: 'turn', callId: leg.id, milestone });
      },
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

/** true when `p` has already settled (checked without waiting). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  return (await Promise.race([p, Promise.resolve(pending)])) !== pending;
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

/**
 * A live call stored under `callId` (detached, or its process died; or handed to a person and not over yet): the call
 * to resume. Bounded; errors: none.
 */
async function findResumable(sessions: SessionStore, callId: string, log: Logger): Promise<CallSession | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      sessions.get(callId),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), RESUME_LOOKUP_TIMEOUT_MS);
      }),
    ]);
    return found && (found.state !== 'ended' || awaitsEndAfterHandOff(found)) ? found : null;
  } catch (err) {
    log.warn({ err }, 'session store unreachable at answer: starting the call afresh');
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The call's ownership lease, renewed until released; losing it detaches the call. undefined: no lease store (one
 * instance) or the store is unreachable (the call is served without one); null: another live process holds it.
 */
async function holdLease(
  deps: CallCoreDeps,
  callId: string,
  clock: Clock,
  log: Logger,
  onLost: () => void,
): Promise<HeldLease | null | undefined> {
  if (!deps.leases) return undefined;
  try {
    return await HeldLease.acquire({
      store: deps.leases,
      callId,
      owner: deps.instanceId ?? defaultInstanceId,
      ttlMs: deps.config.session.leaseMs,
      clock,
      onLost: (why) => {
        log.warn({ why }, 'call lease lost: another instance may take the call over; letting go');
        onLost();
      },
    });
  } catch (err) {
    log.warn({ err }, 'lease store unreachable: serving the call without a lease');
    return undefined;
  }
}
