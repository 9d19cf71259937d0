/**
 * The one port every telephony backend (Asterisk, jambonz, browser, simulate) implements.
 * The call core sees only this: audio in, audio out, DTMF, hangup, transfer to a person.
 */

export type SampleRate = 8000 | 16000;

export interface TransferTarget {
  /** endpoint: an Asterisk dial string (PJSIP/agent); sip: sip:agent@host; user: a registered user; phone: E.164 */
  kind: 'endpoint' | 'sip' | 'user' | 'phone';
  address: string;
  timeoutSec: number;
}

export interface TransferRequest {
  target: TransferTarget;
  /** X-Voicebot-* headers, already header-safe (see telephony/headers.ts). */
  headers: Record<string, string>;
  /**
   * telephony.agentStaysSilent: once the person answers, the bot stays on the call, muted, and the leg emits
   * `party-audio` (caller and agent apart) until the call ends. Without it the bot leaves at the answer.
   */
  listen?: boolean;
}

export type TransferOutcome = 'answered' | 'busy' | 'no-answer' | 'failed';

export interface TransferResult {
  outcome: TransferOutcome;
  /** backend detail, e.g. SIP status or ARI dialstatus */
  detail?: string;
  /** answered with `listen`: the bot stayed on the call, muted; `party-audio` follows until `hangup` */
  listening?: boolean;
}

/** Who is speaking on a handed-off call the bot still listens to. */
export type Party = 'caller' | 'agent';

export interface CallLegEvents {
  /**
   * Caller audio: PCM16 mono at `inputSampleRate`, normally 20 ms frames. `at`: the time the frame stands for on the
   * leg's media clock (ms, see `played`): its RTP timestamp, or its place in the incoming sample count, so that a
   * frame that arrives late (a stalled event loop, a jitter buffer) keeps its time and a lost one leaves a gap.
   */
  audio: [frame: Int16Array, at: number];
  /**
   * Bot audio as it went out to the caller, frame by frame in order: PCM16 at `outputSampleRate`, after the wire
   * codec (μ-law lines: encoded, then decoded back). The echo canceller's reference; cheap when nobody listens.
   * `at`: when it went out on the leg's media clock (ms; performance.now()'s clock on live legs, the simulated clock
   * on simulated ones): its pacer slot, or later when a stalled loop sent it late (the peer cannot play it sooner).
   * The same clock as `audio`'s: the echo stage lines the two up by these stamps, not by the order they arrive in.
   */
  played: [frame: Int16Array, at: number];
  dtmf: [digit: string];
  /**
   * After an answered transfer with `listen`: one party's audio (PCM16 mono at `inputSampleRate`), each party on its
   * own stream so the transcript can say who spoke. The bot's turn-taking no longer hears anything.
   */
  'party-audio': [party: Party, frame: Int16Array];
  /** The caller (or the network) ended the call. Fires once. */
  hangup: [reason: string];
  /**
   * This process stops serving the call but the call goes on (hand-over: drain, ApplicationReplaced, a lost link):
   * the call core detaches (no end record, state left in the session store for whoever resumes it). `hangup`
   * follows, for listeners that only wait for the end of this process's part.
   */
  detach: [reason: string];
}

export interface CallLeg {
  readonly id: string;
  readonly backend: string;
  /** Caller number or URI. */
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound';
  readonly inputSampleRate: SampleRate;
  readonly outputSampleRate: SampleRate;
  /**
   * The call is over already (its `hangup` has fired): a backend may hand the core a call whose caller left while it
   * was being taken over from another process, so that the core records it from the stored state.
   */
  readonly ended?: boolean;
  /**
   * What the backend keeps about this process's part of the call in the session store (`backendData`), written with
   * every state the call core writes as the call's owner, so it always describes the owner that wrote it (jambonz: the
   * address hooks for the call are passed on to).
   */
  readonly sessionData?: Readonly<Record<string, unknown>>;

  on<E extends keyof CallLegEvents>(event: E, listener: (...args: CallLegEvents[E]) => void): this;
  off<E extends keyof CallLegEvents>(event: E, listener: (...args: CallLegEvents[E]) => void): this;

  /** Queue bot audio (PCM16 at `outputSampleRate`, any length); the backend paces it out in 20 ms frames. */
  sendAudio(pcm: Int16Array): void;
  /** Barge-in: drop all queued bot audio at once. Returns the number of queued samples that were never played. */
  clearAudio(): number;
  /** Resolves when everything queued so far has been played out (or cleared, or the call ended). */
  waitForPlayout(signal?: AbortSignal): Promise<void>;
  /** Send DTMF to the far end (optional per backend). */
  sendDtmf?(digits: string): Promise<void>;
  /** Hand the caller to a person; resolves with the outcome. On failure the call stays with the bot. */
  transfer(request: TransferRequest, signal?: AbortSignal): Promise<TransferResult>;
  /** End the call from the bot's side and release everything the leg holds. */
  hangup(reason?: string): Promise<void>;
  /**
   * Let go of the call without ending it: the call core detached (another process holds the call now, or this one
   * lost its lease), so the leg releases only what it holds in this process and leaves the call up for whoever
   * serves it next. A later `hangup` does nothing. Backends that cannot hand a call over leave it out (hung up).
   */
  detach?(): Promise<void>;
}

export interface OriginateOptions {
  callerId?: string;
  signal?: AbortSignal;
  /** X-Voicebot-* headers for the INVITE, where the backend can send them */
  headers?: Record<string, string>;
}

/** A backend accepts inbound calls and can place outbound ones. */
export interface TelephonyBackend {
  readonly name: string;
  start(onCall: (call: CallLeg) => Promise<void>, signal?: AbortSignal): Promise<void>;
  /** Place a call that the bot runs on; resolves with its call id (see each backend for when). */
  originate?(target: TransferTarget, options: OriginateOptions): Promise<string>;
  /** `handOver`: leave running calls up for another instance to take over (backends that can), instead of ending them. */
  stop(opts?: { handOver?: boolean }): Promise<void>;
}
