import { EventEmitter } from 'node:events';
import type { CallRecord, TranscriptEntry } from './call-record.js';

export type CallState = 'greeting' | 'listening' | 'thinking' | 'speaking' | 'transferring' | 'ended';

/**
 * A step of a caller turn, so a user (logs) and the agent console (events) can tell that the bot heard them:
 * speech started / ended (VAD), the recogniser's final text, or why an utterance was discarded.
 */
export type TurnMilestone =
  | { step: 'speech-start'; atMs: number }
  | { step: 'speech-end'; atMs: number; speechMs: number }
  | { step: 'asr-final'; atMs: number; text: string; confidence: number; asrMs: number }
  | {
      step: 'discarded';
      atMs: number;
      reason: 'empty' | 'too-short' | 'too-few-words' | 'no-barge-in' | 'asr-error' | 'asr-timeout';
    };

/** Live events about calls, for UIs (browser test page, agent console) and integrations. */
export type CallEvent =
  | { type: 'call-started'; callId: string; phone: string; backend: string; at: string }
  | { type: 'state'; callId: string; from: CallState | null; to: CallState; cause: string }
  | { type: 'transcript'; callId: string; entry: TranscriptEntry; partial?: boolean }
  | { type: 'turn'; callId: string; milestone: TurnMilestone }
  | { type: 'intent'; callId: string; intent: string | null; confidence: number; slots: Record<string, string> }
  /** escalation requested: `target` is the routing target name, `address` where the backend dials */
  | { type: 'escalation'; callId: string; target: string; address: string; reason: string; record: CallRecord }
  | { type: 'escalation-outcome'; callId: string; outcome: 'answered' | 'busy' | 'no-answer' | 'failed' }
  | { type: 'ticket'; callId: string; ticketId: string; url?: string; sink: string }
  | { type: 'recording'; callId: string; path: string }
  | { type: 'call-ended'; callId: string; record: CallRecord }
  /**
   * One caller turn answered: end of the caller's speech → the first reply audio handed to the leg, and its stages.
   * `endpointingMs` is the silence the VAD waited before ending the turn; `asrMs` the final recognition after that;
   * `nluMs` intent detection; `ttsMs` until the first synthesized audio reached the leg.
   */
  | { type: 'turn-latency'; callId: string; totalMs: number; stages: TurnStages }
  /**
   * Only on the cross-instance console bus (CallEventRelay.all): the instance serving this call stopped
   * heartbeating (crashed or cut off). The next event about the call, from whichever instance takes it over, clears it.
   */
  | { type: 'owner-lost'; callId: string; instanceId: string };

export interface TurnStages {
  endpointingMs: number;
  asrMs: number;
  nluMs: number;
  ttsMs: number;
}

export type CallEventListener = (event: CallEvent) => void;

/** In-process pub/sub. A throwing listener is isolated so one UI cannot break a call. */
export class CallEventBus {
  readonly #emitter = new EventEmitter();
  constructor() {
    this.#emitter.setMaxListeners(0);
  }
  publish(event: CallEvent): void {
    for (const listener of this.#emitter.listeners('event') as CallEventListener[]) {
      try {
        listener(event);
      } catch {
        // isolation: listeners report their own errors
      }
    }
  }
  /** Returns an unsubscribe function. */
  subscribe(listener: CallEventListener): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }
  get listenerCount(): number {
    return this.#emitter.listenerCount('event');
  }
}
