import { EventEmitter } from 'node:events';
import type { CallEvent, CallEventBus, CallState } from '../../core/call-events.js';
import type { TranscriptEntry } from '../../core/call-record.js';

/** What the agent console shows about one call. */
export interface LiveCall {
  callId: string;
  phone: string;
  backend: string;
  startedAt: string;
  state: CallState | 'unknown';
  intent: string | null;
  confidence: number | null;
  summary: string;
  transcript: TranscriptEntry[];
  /** the caller's words so far in the current utterance (partial ASR) */
  partial?: string;
  escalation?: { target: string; address: string; reason: string; at: string; outcome?: string };
  ticket?: { id: string; url?: string; sink: string };
  /** set when a recording file exists; the console serves it at /agent/recording/:callId */
  recordingPath?: string;
  ended: boolean;
  outcome?: string;
  /**
   * Set while no live instance serves the call: the one that did stopped heartbeating (crashed, cut off). Cleared by
   * the next event about the call, i.e. when another instance takes it over.
   */
  botLost?: { instanceId: string; since: string };
}

export interface LiveCallsOptions {
  /** ended calls stay visible this long */
  keepEndedMs?: number;
  maxCalls?: number;
  now?: () => number;
}

/**
 * Folds CallEvents into a per-call view and emits 'change' (LiveCall) and 'removed' (callId).
 * Memory is bounded: ended calls are dropped after keepEndedMs, and the oldest beyond maxCalls.
 */
export class LiveCalls extends EventEmitter<{ change: [LiveCall]; removed: [string] }> {
  readonly #calls = new Map<string, LiveCall>();
  readonly #endedAt = new Map<string, number>();
  readonly #unsubscribe: () => void;
  constructor(
    events: CallEventBus,
    readonly opts: LiveCallsOptions = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.#unsubscribe = events.subscribe((e) => this.#apply(e));
  }

  list(): LiveCall[] {
    return [...this.#calls.values()];
  }
  get(callId: string): LiveCall | undefined {
    return this.#calls.get(callId);
  }

  #call(callId: string): LiveCall {
    let call = this.#calls.get(callId);
    if (!call) {
      call = {
        callId,
        phone: '',
        backend: '',
        startedAt: new Date(this.#now()).toISOString(),
        state: 'unknown',
        intent: null,
        confidence: null,
        summary: '',
        transcript: [],
        ended: false,
      };
      this.#calls.set(callId, call);
    }
    return call;
  }

  #now(): number {
    return (this.opts.now ?? Date.now)();
  }

  #apply(e: CallEvent): void {
    const call = this.#call(e.callId);
    if (e.type !== 'owner-lost' && call.botLost) {
      delete call.botLost;
      this.#endedAt.delete(e.callId);
    }
    switch (e.type) {
      case 'owner-lost':
        if (call.ended) return;
        call.botLost = { instanceId: e.instanceId, since: new Date(this.#now()).toISOString() };
        // never taken over (the caller hung up meanwhile, nobody saw it): pruned like an ended call
        this.#endedAt.set(e.callId, this.#now());
        break;
      case 'call-started':
        Object.assign(call, { phone: e.phone, backend: e.backend, startedAt: e.at });
        break;
      case 'state':
        call.state = e.to;
        break;
      case 'transcript':
        if (e.partial) call.partial = e.entry.text;
        else {
          call.transcript.push(e.entry);
          if (e.entry.speaker === 'caller') delete call.partial;
        }
        break;
      case 'intent':
        call.intent = e.intent;
        call.confidence = e.confidence;
        break;
      case 'escalation':
        call.escalation = {
          target: e.target,
          address: e.address,
          reason: e.reason,
          at: new Date(this.#now()).toISOString(),
        };
        this.#fromRecord(call, e.record);
        break;
      case 'escalation-outcome':
        if (call.escalation) call.escalation.outcome = e.outcome;
        break;
      case 'ticket':
        call.ticket = { id: e.ticketId, sink: e.sink, ...(e.url ? { url: e.url } : {}) };
        break;
      case 'recording':
        call.recordingPath = e.path;
        break;
      case 'call-ended':
        this.#fromRecord(call, e.record);
        call.ended = true;
        call.outcome = e.record.outcome;
        call.state = 'ended';
        delete call.partial;
        this.#endedAt.set(e.callId, this.#now());
        break;
    }
    this.emit('change', call);
    this.#prune();
  }

  #fromRecord(call: LiveCall, r: Extract<CallEvent, { type: 'call-ended' }>['record']): void {
    if (!call.phone) call.phone = r.phone;
    if (!call.backend) call.backend = r.backend;
    call.intent = r.intent ?? call.intent;
    call.confidence = r.nluConfidence ?? call.confidence;
    call.summary = r.summary || call.summary;
    if (r.transcript.length >= call.transcript.length) call.transcript = [...r.transcript];
    if (r.recording) call.recordingPath = r.recording.path;
  }

  #prune(): void {
    const keep = this.opts.keepEndedMs ?? 15 * 60_000;
    const max = this.opts.maxCalls ?? 200;
    const now = this.#now();
    for (const [id, at] of this.#endedAt) {
      if (now - at > keep || this.#calls.size > max) this.#drop(id);
    }
  }

  #drop(callId: string): void {
    this.#calls.delete(callId);
    this.#endedAt.delete(callId);
    this.emit('removed', callId);
  }

  close(): void {
    this.#unsubscribe();
    this.removeAllListeners();
  }
}
