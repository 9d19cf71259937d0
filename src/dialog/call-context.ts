import type { CallOutcome, CallRecord, CallRecordEvent, IntentTurn } from '../core/call-record.js';
import type { DialogState } from './dialog-state.js';
import type { CallLeg } from '../telephony/port.js';
import { Transcript } from './transcript.js';

export interface EscalationState {
  reason: string;
  target: string;
  outcome: 'pending' | 'answered' | 'busy' | 'no-answer' | 'failed';
  atMs: number;
}

/** Everything the bot learns about one call; turned into a CallRecord at escalation and at the end. */
export class CallContext {
  readonly callId: string;
  startedAt = new Date();
  #t0 = performance.now();
  /** caller audio received so far, ms: the call's clock when audio outruns the wall (simulations) */
  #audioMs = 0;
  readonly transcript: Transcript;
  /** the current intent (the dialog's context for the next turn) */
  intent: string | null = null;
  /** slots of the current intent */
  slots: Record<string, string> = {};
  nluConfidence: number | null = null;
  /** the call's story for the record: every turn's intent, every slot ever captured, intents that close calls */
  readonly intentTurns: IntentTurn[] = [];
  capturedSlots: Record<string, string> = {};
  readonly closingIntents = new Set<string>();
  readonly asrConfidences: number[] = [];
  /** answered turns (not clarifications): decides resolved vs abandoned */
  answeredTurns = 0;
  lowConfidenceStreak = 0;
  /** re-prompts for silence in a row (reset when the caller speaks or presses a key) */
  noInputCount = 0;
  escalation: EscalationState | undefined;
  transferred = false;
  /** handed off with the bot still on the line, muted: the caller and the agent go on into the transcript */
  listeningAfterHandOff = false;
  ticketId: string | undefined;
  recording: CallRecord['recording'];
  /** the greeting has been said (on this process or the one before) */
  greeted = false;
  /** records handed to the CRM so far */
  readonly submitted = new Set<CallRecordEvent>();

  constructor(
    readonly leg: CallLeg,
    onTranscript: ConstructorParameters<typeof Transcript>[1],
  ) {
    this.callId = leg.id;
    this.transcript = new Transcript(() => this.elapsedMs(), onTranscript);
  }

  /** Call time: wall time since answer, or caller audio time if that is ahead (fast simulated calls). */
  elapsedMs(): number {
    return Math.max(performance.now() - this.#t0, this.#audioMs);
  }

  addAudio(ms: number): void {
    this.#audioMs += ms;
  }

  /** One caller turn's understanding; confident turns' slots join the call's captured slots. */
  noteTurn(
    atMs: number,
    intent: string | null,
    confidence: number,
    slots: Record<string, string>,
    confident: boolean,
  ): void {
    this.intentTurns.push({ atMs: Math.round(atMs), intent, confidence: round(confidence) });
    if (confident) Object.assign(this.capturedSlots, slots);
  }

  /**
   * What the call was about: the intent of the most confident turns, leaving out intents that close a call
   * (goodbye) unless nothing else was understood; ties go to the latest ("…actually, cancel my order"). Its confidence is its best turn's.
   */
  mainIntent(lowConfidence: number): { intent: string | null; confidence: number | null } {
    const confident = this.intentTurns.filter((t) => t.intent !== null && t.confidence >= lowConfidence);
    const substantive = confident.filter((t) => !this.closingIntents.has(t.intent!));
    const pool = substantive.length > 0 ? substantive : confident;
    const counts = new Map<string, number>();
    for (const t of pool) counts.set(t.intent!, (counts.get(t.intent!) ?? 0) + 1);
    let best: string | null = null;
    for (const t of pool) if (best === null || counts.get(t.intent!)! >= counts.get(best)!) best = t.intent;
    if (best === null) return { intent: this.intent, confidence: this.nluConfidence };
    return { intent: best, confidence: Math.max(...pool.filter((t) => t.intent === best).map((t) => t.confidence)) };
  }

  /** The outcome if the call ended now. */
  finalOutcome(error: boolean): CallOutcome {
    if (this.transferred) return 'escalated';
    if (error) return 'error';
    if (this.escalation && this.escalation.outcome !== 'answered') return 'transfer-failed';
    return this.answeredTurns > 0 ? 'resolved' : 'abandoned';
  }

  /** barge-in counts for the CallRecord (see call-record.ts `bargeIn`) */
  readonly bargeIn = { interruptions: 0, suspectedEcho: 0, recovered: 0 };

  toRecord(outcome: CallOutcome, summary: string, ended: boolean, lowConfidence = 0): CallRecord {
    const confidences = this.asrConfidences;
    const main = this.mainIntent(lowConfidence);
    const record: CallRecord = {
      version: 1,
      callId: this.callId,
      backend: this.leg.backend,
      phone: this.leg.from,
      calledNumber: this.leg.to,
      direction: this.leg.direction,
      startedAt: this.startedAt.toISOString(),
      durationMs: Math.round(this.elapsedMs()),
      outcome,
      intent: main.intent,
      intents: this.intentTurns.map((t) => ({ ...t })),
      slots: { ...this.capturedSlots, ...this.slots },
      asrConfidence: confidences.length ? round(confidences.reduce((a, b) => a + b, 0) / confidences.length) : null,
      nluConfidence: main.confidence === null ? null : round(main.confidence),
      summary,
      transcript: this.transcript.entries.map((e) => ({ ...e })),
    };
    if (ended) record.endedAt = new Date(this.startedAt.getTime() + record.durationMs).toISOString();
    if (this.escalation) record.escalation = { ...this.escalation, atMs: Math.round(this.escalation.atMs) };
    record.bargeIn = { ...this.bargeIn };
    if (this.recording) record.recording = { ...this.recording };
    return record;
  }

  /** What goes into the session store (enough for another instance to pick the call up). */
  dialogSnapshot(): DialogState {
    return structuredClone({
      greeted: this.greeted,
      elapsedMs: Math.round(this.elapsedMs()),
      transcript: this.transcript.entries,
      intent: this.intent,
      slots: this.slots,
      nluConfidence: this.nluConfidence,
      intentTurns: this.intentTurns,
      capturedSlots: this.capturedSlots,
      closingIntents: [...this.closingIntents],
      asrConfidences: this.asrConfidences,
      answeredTurns: this.answeredTurns,
      lowConfidenceStreak: this.lowConfidenceStreak,
      noInputCount: this.noInputCount,
      escalation: this.escalation ?? null,
      transferred: this.transferred,
      ticketId: this.ticketId ?? null,
      recording: this.recording ?? null,
      submitted: [...this.submitted],
    });
  }

  /**
   * Takes up a call another process served: its story so far, and its clock (the call started at `startedAt`, the
   * time the caller waited during the takeover counts).
   */
  restore(state: DialogState, startedAt: string): void {
    const s = structuredClone(state);
    this.startedAt = new Date(startedAt);
    this.#t0 = performance.now() - Math.max(s.elapsedMs, Date.now() - this.startedAt.getTime());
    this.#audioMs = s.elapsedMs;
    // the stored story comes first (a key pressed while the store was asked is already noted)
    this.transcript.entries.unshift(...s.transcript);
    this.intent = s.intent;
    this.slots = s.slots;
    this.nluConfidence = s.nluConfidence;
    this.intentTurns.push(...s.intentTurns);
    this.capturedSlots = s.capturedSlots;
    for (const i of s.closingIntents) this.closingIntents.add(i);
    this.asrConfidences.push(...s.asrConfidences);
    this.answeredTurns = s.answeredTurns;
    this.lowConfidenceStreak = s.lowConfidenceStreak;
    this.noInputCount = s.noInputCount;
    this.escalation = s.escalation ?? undefined;
    this.transferred = s.transferred;
    this.ticketId = s.ticketId ?? undefined;
    this.recording = s.recording ?? undefined;
    this.greeted = s.greeted;
    for (const r of s.submitted) this.submitted.add(r);
  }
}

const round = (n: number) => Math.round(Math.min(Math.max(n, 0), 1) * 1000) / 1000;
