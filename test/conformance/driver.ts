import type { CallRecord } from '../../src/core/call-record.js';
import type { TestDeps, TestDepsOverrides } from '../../src/dialog/scripted.js';
import type { EchoPathOptions } from '../../src/media/echo-path.js';
import type { CallLeg, TransferTarget } from '../../src/telephony/port.js';

/**
 * One telephony backend plus the emulator that plays its peer, driven the same way by every conformance case.
 * A driver runs the real call core (`runCall`) on each call the backend hands over.
 */
export interface BackendDriver {
  readonly name: string;
  /** how this backend reaches a person: the routing target named "agent" */
  readonly agentTarget: Pick<TransferTarget, 'kind' | 'address'>;
  /** Start the emulator and the backend; `agent` is how the dialled person answers. */
  start(opts: DriverOptions): Promise<DriverSession>;
}

export interface DriverOptions {
  deps: TestDepsOverrides;
  agent: 'answer' | 'busy';
}

export interface DriverSession {
  readonly deps: TestDeps;
  /**
   * Place a call; resolves once the call core has it. With `wav`, the caller says it once the bot listens. With
   * `echo`, the caller's line echoes what the caller hears back to the bot from the first frame on.
   */
  startCall(wav?: string, echo?: Omit<EchoPathOptions, 'sampleRate'>): Promise<CallDriver>;
  /** What the backend and its peer still hold for calls, as readable problems (empty = all released). */
  leftovers(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface CallDriver {
  /** the call id the core uses (leg.id) */
  readonly id: string;
  /** the caller speaks: a WAV file, then trailing silence so the turn ends */
  say(wav: string): Promise<void>;
  sendDtmf(digit: string): void;
  hangup(): Promise<void>;
  /** what the caller heard from the bot so far, and at which rate */
  collectBotAudio(): { pcm: Int16Array; sampleRate: number };
  /** Send one malformed frame the backend's transport can carry. */
  malformedFrame(): Promise<void>;
  /** frames this backend counted and dropped for this call */
  droppedFrames(): Promise<number>;
  /** X-Voicebot-* headers each agent leg was dialled with, as they went over the wire to the peer */
  agentHeaders(): Record<string, string>[];
  /** The caller talks over the bot right away (real time, no waiting for the bot to listen). */
  interrupt(wav: string): Promise<void>;
  /** The caller's line carries a burst of noise (8 kHz PCM, real time). */
  sendNoise(pcm8k: Int16Array): Promise<void>;
  /** when the backend was told to drop the bot's queued audio (barge-in), performance.now(); null before */
  interruptedAt(): number | null;
  /** bot audio the caller heard, piece by piece, with when it was played (performance.now()) */
  heardChunks(): { at: number; pcm: Int16Array }[];
  /**
   * After an answered hand-off: the caller or the agent talks (a tone `ms` long, then `silenceMs` of silence), in
   * real time, the way the backend's peer carries it to the bot's listening side.
   */
  speakAfterHandOff(party: 'caller' | 'agent', ms: number, silenceMs?: number): Promise<void>;
  /** audible bot audio (ms) that went on the wire towards anyone on the call after the person answered, by the peer's clock */
  botAudibleMsAfterAnswer(): number;
  /** the CallRecord runCall resolved with */
  readonly record: Promise<CallRecord>;
}

/** Notes when the call core first drops the leg's queued audio (barge-in), without changing what it does. */
export function watchClearAudio(leg: CallLeg): () => number | null {
  let at: number | null = null;
  const clear = leg.clearAudio.bind(leg);
  leg.clearAudio = () => {
    at ??= performance.now();
    return clear();
  };
  return () => at;
}

/** A speech-like tone (loud enough for every VAD the tests use) at `rate`. */
export function speechTone(ms: number, rate: number, amplitude = 8000): Int16Array {
  const out = new Int16Array(Math.round((rate * ms) / 1000));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 220 * i) / rate));
  return out;
}
