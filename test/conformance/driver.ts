import type { CallRecord } from '../../src/core/call-record.js';
import type { TestDeps, TestDepsOverrides } from '../../src/dialog/scripted.js';
import type { TransferTarget } from '../../src/telephony/port.js';

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
  /** Place a call; resolves once the call core has it. With `wav`, the caller says it once the bot listens. */
  startCall(wav?: string): Promise<CallDriver>;
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
  /** X-Voicebot-* headers each agent leg was dialled with */
  agentHeaders(): Record<string, string>[];
  /** the CallRecord runCall resolved with */
  readonly record: Promise<CallRecord>;
}
