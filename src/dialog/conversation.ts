import type { CallEventBus } from '../core/call-events.js';
import type { CallRecord, CallRecordEvent } from '../core/call-record.js';
import type { Logger } from '../log/logger.js';
import { voicebotHeaders } from '../telephony/headers.js';
import type { CallLeg, TransferResult } from '../telephony/port.js';
import type { AsyncQueue } from '../core/async-queue.js';
import type { Utterance } from './audio-input.js';
import type { CallContext } from './call-context.js';
import type { DialogConfig } from './config.js';
import type { DialogMetrics } from './metrics.js';
import type { ChatClient } from './nlu/chat-client.js';
import type { IntentDetector, IntentResult } from './nlu/types.js';
import { decide, decideDtmf, type Decision } from './policy.js';
import type { PlayResult, PromptPlayer, SpeechHandle } from './prompt-player.js';
import type { DialogEventType, DialogStateMachine } from './state-machine.js';
import { summarise } from './summary.js';
import type { Timers } from '../core/clock.js';
import { routeFor } from './routing.js';
import type { TimerInput, TurnTimers } from './turn-timers.js';

export type CallInput =
  | ({ kind: 'utterance' } & Utterance)
  | { kind: 'dtmf'; digit: string }
  | TimerInput
  /** the speech that barged in was no speech after all (noise, echo) */
  | { kind: 'false-interruption' };

/** When a caller turn's stages finished (performance.now()), to time the reply. */
type TurnTiming = Pick<Utterance, 'endedAt' | 'endpointingMs' | 'recognisedAt'> & { understoodAt: number };

export interface ConversationParts {
  config: DialogConfig;
  leg: CallLeg;
  ctx: CallContext;
  machine: DialogStateMachine;
  player: PromptPlayer;
  inputs: AsyncQueue<CallInput>;
  nlu: IntentDetector;
  /** for LLM summaries; undefined: extractive */
  chat: ChatClient | undefined;
  events: CallEventBus;
  metrics: DialogMetrics;
  logger: Logger;
  /** the call's signal: aborted on hangup */
  signal: AbortSignal;
  /** the call's timers (no-input, call limit); a fired one arrives as an input */
  timers: TurnTimers;
  /** the call's clock, for the transfer ring bound */
  clock: Timers;
  submitRecord(event: CallRecordEvent, record: CallRecord): Promise<void>;
  /** telephony.agentStaysSilent: ask the backend to keep the bot on the call, muted, after the answer */
  listenAfterHandOff?: boolean;
}

/** The turn loop: greet, then listen → think → speak until the call ends or is handed over. */
export class Conversation {
  /** set when the bot itself hung up (goodbye) */
  botHungUp = false;
  /** the prompt the caller last cut short, until the caller's next turn: what a false interruption resumes */
  #cut: SpeechHandle | null = null;

  constructor(private readonly p: ConversationParts) {}

  /** `resumed`: the call was taken up from the session store; no notice, no greeting, the resume prompt instead. */
  async run(resumed = false): Promise<void> {
    const { config } = this.p;
    if (resumed) {
      if (config.resumePrompt) {
        this.#transition('reply', 'resume prompt');
        this.#afterPrompt(await this.#say(config.resumePrompt, config.bargeIn));
      } else this.#transition('nothingToSay', 'resumed without a prompt');
      return this.#loop();
    }
    if (config.notice) await this.#say(config.notice, false);
    // said once per call, whichever process says it
    this.p.ctx.greeted = true;
    if (this.p.inputs.size > 0) {
      // the caller pressed the escalation digit during the notice: no greeting, act on it
      this.#transition('promptDone', 'greeting skipped: caller input waiting');
    } else {
      this.#afterPrompt(await this.#say(config.greeting, config.bargeIn));
    }
    return this.#loop();
  }

  async #loop(): Promise<void> {
    for (;;) {
      const next = await this.p.inputs.next(this.p.signal);
      if (next.done) return;
      if ((await this.#handle(next.value)) === 'end') return;
    }
  }

  #transition(type: DialogEventType, detail?: string): void {
    this.p.machine.dispatch(detail === undefined ? { type } : { type, detail });
  }

  #afterPrompt(result: PlayResult): void {
    if (result.interruptedAt !== undefined) this.#transition('bargeIn', 'caller barged in');
    else this.#transition('promptDone');
  }

  /** A prompt the caller may interrupt when `dialog.bargeIn` allows; notices and hand-over lines are `high`. */
  async #say(text: string, bargeIn: boolean, onFirstAudio?: () => void): Promise<PlayResult> {
    const entry = this.p.ctx.transcript.startBot(text);
    const handle = this.p.player.say(text, {
      allowInterruptions: bargeIn,
      priority: bargeIn ? 'normal' : 'high',
      signal: this.p.signal,
      ...(onFirstAudio ? { onFirstAudio } : {}),
    });
    const result = await handle.done;
    this.#cut = result.interruptedAt !== undefined && bargeIn ? handle : null;
    // record what was heard even if the caller hung up right after barging in
    this.p.ctx.transcript.finishBot(entry, result.interruptedAt);
    this.p.signal.throwIfAborted();
    return result;
  }

  async #handle(input: CallInput): Promise<'continue' | 'end'> {
    const { ctx, config } = this.p;
    if (input.kind === 'false-interruption') return this.#resume();
    if (input.kind === 'timer') return this.#timer(input);
    this.#cut = null;
    ctx.noInputCount = 0;
    if (input.kind === 'dtmf') {
      this.#transition('dtmf', `DTMF ${input.digit}`);
      const decision = decideDtmf(config, input.digit, ctx.intent);
      if (!decision) {
        this.#transition('nothingToSay');
        return 'continue';
      }
      return this.#act(decision);
    }
    if (input.via === 'monologueCut') this.#transition('monologueCut', 'caller turn cut at dialog.maxMonologueSec');
    else if (input.via === 'asrGrace') this.#transition('asrGrace', 'no final recognition in time: last partial used');
    else this.#transition('utterance');
    ctx.transcript.caller(input.text, input.confidence, input.atMs);
    ctx.asrConfidences.push(input.confidence);
    const nlu = await this.#understand(input.text);
    const understoodAt = performance.now();
    const { decision, state } = decide(config, input.text, nlu, { lowConfidenceStreak: ctx.lowConfidenceStreak });
    ctx.lowConfidenceStreak = state.lowConfidenceStreak;
    const confident = nlu.intent !== null && nlu.confidence >= config.lowConfidence;
    ctx.noteTurn(input.atMs, nlu.intent, nlu.confidence, nlu.slots, confident);
    if (confident) {
      if (nlu.intent !== ctx.intent) ctx.slots = {};
      ctx.intent = nlu.intent;
      ctx.nluConfidence = nlu.confidence;
      ctx.slots = { ...ctx.slots, ...nlu.slots };
    }
    return this.#act(decision, { ...input, understoodAt });
  }

  /** A barge-in was noise or echo: say the rest of the cut prompt (from the first word not heard), once. */
  async #resume(): Promise<'continue' | 'end'> {
    const cut = this.#cut;
    this.#cut = null;
    const rest = cut?.rest() ?? '';
    const resumed = this.p.config.interruption.resume && rest !== '';
    this.p.metrics.falseInterruptions.inc({ resumed: resumed ? 'yes' : 'no' });
    if (!resumed) return 'continue';
    this.p.ctx.bargeIn.recovered++;
    this.p.logger.info({ words: rest.split(/\s+/).length }, 'false interruption: resuming the prompt');
    this.#transition('resumePrompt', 'false interruption: resuming the prompt');
    this.#afterPrompt(await this.#say(rest, this.p.config.bargeIn));
    return 'continue';
  }

  /** A turn the bot takes itself: silence, or the call's time running out. Stale timers (the caller spoke) do nothing. */
  async #timer(input: TimerInput): Promise<'continue' | 'end'> {
    const { ctx, config } = this.p;
    if (!this.p.timers.current(input)) return 'continue';
    if (input.timer === 'noInput') {
      const n = ++ctx.noInputCount;
      const prompts = config.noInput.prompts;
      this.#transition(
        'noInput',
        n <= prompts.length ? `no input ${n}/${prompts.length}` : `no input: ${config.noInput.then}`,
      );
      const reprompt = prompts[n - 1];
      if (reprompt !== undefined) return this.#act({ kind: 'clarify', reply: reprompt });
      if (config.noInput.then === 'escalate') {
        return this.#escalate({ kind: 'escalate', reason: 'no-input', route: routeFor(config, ctx.intent) });
      }
      return this.#goodbye(config.noInput.goodbye, 'no input: goodbye');
    }
    if (input.timer === 'callTimeWarning') {
      this.#transition('callTimeWarning', 'dialog.maxCall.warningSec before the limit');
      return this.#act({ kind: 'clarify', reply: config.maxCall.warning });
    }
    if (input.timer === 'callTimeLimit') {
      this.#transition('callTimeLimit', 'dialog.maxCall.durationSec reached');
      return this.#goodbye(config.maxCall.goodbye, 'call time limit');
    }
    return 'continue';
  }

  /** Says `text` without barge-in and ends the call from the bot's side. */
  async #goodbye(text: string, why: string): Promise<'end'> {
    this.#transition('reply', why);
    await this.#say(text, false);
    this.#transition('botHangup', why);
    this.botHungUp = true;
    return 'end';
  }

  async #understand(text: string): Promise<IntentResult> {
    const { ctx } = this.p;
    // per-turn controller: the call's hangup aborts it, and so could a future "caller spoke again" rule
    const turn = new AbortController();
    const signal = AbortSignal.any([this.p.signal, turn.signal]);
    let nlu: IntentResult;
    try {
      nlu = await this.p.nlu.detect(text, {
        signal,
        previousIntent: ctx.intent,
        history: ctx.transcript.entries.slice(-7, -1).map((e) => ({ speaker: e.speaker, text: e.text })),
      });
    } catch (err) {
      this.p.signal.throwIfAborted();
      this.p.metrics.errors.inc({ stage: 'nlu' });
      this.p.logger.error({ err }, 'intent detection failed; treating the turn as not understood');
      nlu = { intent: null, confidence: 0, slots: {}, escalate: false, source: 'rules' };
    } finally {
      turn.abort();
    }
    this.p.signal.throwIfAborted();
    this.p.metrics.turns.inc({ source: nlu.source });
    this.p.events.publish({
      type: 'intent',
      callId: ctx.callId,
      intent: nlu.intent,
      confidence: nlu.confidence,
      slots: nlu.slots,
    });
    this.p.logger.info(
      { intent: nlu.intent, confidence: nlu.confidence, source: nlu.source, slots: Object.keys(nlu.slots) },
      'intent',
    );
    return nlu;
  }

  async #act(decision: Decision, turn?: TurnTiming): Promise<'continue' | 'end'> {
    const { config, ctx } = this.p;
    if (decision.kind === 'escalate') return this.#escalate(decision);
    if (decision.kind === 'answer') ctx.answeredTurns++;
    this.#transition('reply', decision.kind);
    let firstAudioAt: number | undefined;
    const latency = turn
      ? () => {
          firstAudioAt = performance.now();
          this.#turnAnswered(turn, firstAudioAt);
        }
      : undefined;
    const result = await this.#say(decision.reply, config.bargeIn, latency);
    // playout: first reply audio → the reply played out (or cut short by the caller)
    if (firstAudioAt !== undefined)
      this.p.metrics.turnStages.observe({ stage: 'playout' }, (performance.now() - firstAudioAt) / 1000);
    if (decision.kind === 'answer' && decision.hangup) ctx.closingIntents.add(decision.intent);
    if (decision.kind === 'answer' && decision.hangup && result.interruptedAt === undefined) {
      await this.#say(config.goodbye, false);
      this.#transition('botHangup', `intent ${decision.intent} ends the call`);
      this.botHungUp = true;
      return 'end';
    }
    this.#afterPrompt(result);
    return 'continue';
  }

  /** The first reply audio reached the leg: the response-latency histogram and the turn's stages as an event. */
  #turnAnswered(turn: TurnTiming, now: number): void {
    this.p.metrics.responseLatency.observe((now - turn.endedAt) / 1000);
    const stages = {
      endpointingMs: Math.round(turn.endpointingMs),
      asrMs: Math.round(turn.recognisedAt - turn.endedAt),
      nluMs: Math.round(turn.understoodAt - turn.recognisedAt),
      ttsMs: Math.round(now - turn.understoodAt),
    };
    const stageSeconds = this.p.metrics.turnStages;
    stageSeconds.observe({ stage: 'endpointing' }, stages.endpointingMs / 1000);
    stageSeconds.observe({ stage: 'asr' }, stages.asrMs / 1000);
    stageSeconds.observe({ stage: 'nlu' }, stages.nluMs / 1000);
    stageSeconds.observe({ stage: 'tts' }, stages.ttsMs / 1000);
    const totalMs = stages.endpointingMs + stages.asrMs + stages.nluMs + stages.ttsMs;
    this.p.events.publish({ type: 'turn-latency', callId: this.p.ctx.callId, totalMs, stages });
  }

  async #escalate(decision: Extract<Decision, { kind: 'escalate' }>): Promise<'continue' | 'end'> {
    const { config, ctx, leg, route } = { ...this.p, route: decision.route };
    this.p.metrics.escalations.inc({ reason: decision.reason });
    ctx.escalation = { reason: decision.reason, target: route.name, outcome: 'pending', atMs: ctx.elapsedMs() };
    this.p.logger.info({ reason: decision.reason, target: route.name }, 'escalating to a person');
    this.#transition('reply', `escalation: ${decision.reason}`);
    // the ticket is written while the caller hears the transfer message
    const [handover, said] = await Promise.allSettled([
      this.#handover(decision.reason, route.name, route.target.address),
      this.#say(config.transferMessage, false),
    ]);
    if (said.status === 'rejected') throw said.reason;
    this.p.signal.throwIfAborted();
    const summary = handover.status === 'fulfilled' ? handover.value : '';
    this.#transition('transfer', `to ${route.name}`);
    let result: TransferResult;
    // the ring bound runs on the call's clock: the target's ring time plus the backend's grace to answer
    const ring = new AbortController();
    let rangOut = false;
    const ringMs = (route.target.timeoutSec + config.transferGraceSec) * 1000;
    const ringTimer = this.p.clock.setTimeout(() => {
      rangOut = true;
      ring.abort(new Error(`transfer not answered within ${ringMs} ms`));
    }, ringMs);
    const bound = { signal: AbortSignal.any([this.p.signal, ring.signal]) };
    try {
      result = await leg.transfer(
        {
          target: route.target,
          headers: voicebotHeaders({
            callId: ctx.callId,
            ticketId: ctx.ticketId,
            intent: ctx.intent,
            phone: leg.from,
            summary,
          }),
          ...(this.p.listenAfterHandOff ? { listen: true } : {}),
        },
        bound.signal,
      );
    } catch (err) {
      this.p.signal.throwIfAborted();
      if (!rangOut) this.p.logger.error({ err }, 'transfer failed');
      result = { outcome: 'failed', detail: (err as Error).message };
    } finally {
      this.p.clock.clearTimeout(ringTimer);
    }
    this.p.signal.throwIfAborted();
    if (rangOut) result = { outcome: 'no-answer', detail: `ring timeout (${ringMs} ms)` };
    ctx.escalation.outcome = result.outcome;
    this.p.metrics.transfers.inc({ outcome: result.outcome });
    this.p.events.publish({ type: 'escalation-outcome', callId: ctx.callId, outcome: result.outcome });
    this.p.logger.info({ outcome: result.outcome, detail: result.detail }, 'transfer result');
    if (result.outcome === 'answered') {
      ctx.transferred = true;
      ctx.listeningAfterHandOff = result.listening === true;
      this.#transition('transferAnswered', `answered by ${route.name}`);
      return 'end';
    }
    if (rangOut) this.#transition('transferTimeout', `ring timeout after ${ringMs} ms`);
    else this.#transition('transferFailed', result.outcome);
    ctx.lowConfidenceStreak = 0;
    this.#afterPrompt(await this.#say(config.transferFailed, config.bargeIn));
    return 'continue';
  }

  /** Summary + escalation record to the CRM + `escalation` event. Returns the summary for the SIP header. */
  async #handover(reason: string, target: string, address: string): Promise<string> {
    const { ctx } = this.p;
    const summary = await summarise(
      { intent: ctx.intent, slots: ctx.slots, transcript: ctx.transcript.entries, escalationReason: reason },
      this.p.chat,
      this.p.logger,
      this.p.signal,
    );
    const record = ctx.toRecord('in-progress', summary, false, this.p.config.lowConfidence);
    await this.p.submitRecord('escalation', record);
    this.p.events.publish({ type: 'escalation', callId: ctx.callId, target, address, reason, record });
    return summary;
  }
}
