import type { CallOutcome, CallRecord, IntentTurn } from '../core/call-record.js';
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
  readonly startedAt = new Date();
  readonly #t0 = performance.now();
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
  readonly capturedSlots: Record<string, string> = {};
  readonly closingIntents = new Set<string>();
  readonly asrConfidences: number[] = [];
  /** answered turns (not clarifications): decides resolved vs abandoned */
  answeredTurns = 0;
  lowConfidenceStreak = 0;
  /** re-prompts for silence in a row (reset when the caller speaks or presses a key) */
  noInputCount = 0;
  escalation: EscalationState | undefined;
  transferred = false;
  ticketId: string | undefined;
  recording: CallRecord['recording'];

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
  dialogSnapshot(): Record<string, unknown> {
    return {
      intent: this.intent,
      slots: this.slots,
      lowConfidenceStreak: this.lowConfidenceStreak,
      answeredTurns: this.answeredTurns,
      escalation: this.escalation ?? null,
      transcript: this.transcript.entries,
    };
  }
}

const round = (n: number) => Math.round(Math.min(Math.max(n, 0), 1) * 1000) / 1000;
