import { ulawDecode, ulawEncode } from './wire.js';

const FRAME = 160;
const INTERVAL_MS = 20;
/**
 * bridge_softmix.c: before a channel's frame is fed to the mixer, a buffer holding more than 4 mixing intervals is
 * flushed ("fallen behind"), so a burst of audio loses all but the last few frames.
 */
const MAX_QUEUED_FRAMES = 4;

/** The music an Announcer channel plays into the bridge: two alternating tones, well above speech thresholds. */
export function mohFrame(n: number): Int16Array {
  const out = new Int16Array(FRAME);
  const freq = Math.floor(n / 25) % 2 === 0 ? 523 : 659;
  for (let i = 0; i < FRAME; i++) out[i] = Math.round(6000 * Math.sin((2 * Math.PI * freq * (n * FRAME + i)) / 8000));
  return out;
}

export interface MixerMember {
  id: string;
  /** out of the bridge for now (a /play): neither heard nor fed */
  muted: boolean;
  deliver: (ulaw: Buffer) => void;
}

/**
 * softmix as an ARI mixing bridge uses it with three or more participants: each member's audio is queued, and on
 * a 20 ms clock every member gets the sum of everybody else's frame (silence when nobody talks), so every member,
 * including the bot's UnicastRTP leg, receives 50 packets a second. With `moh` an Announcer mixes music into every
 * member (res/res_stasis.c: it joins the bridge like a channel).
 */
export class SoftMixer {
  readonly #queues = new Map<string, Int16Array[]>();
  #timer: NodeJS.Timeout | null = null;
  #start = 0;
  #tick = 0;
  #mohFrames = 0;
  moh = false;
  /** frames thrown away by the 4-interval flush (bursts) */
  flushed = 0;

  constructor(
    private readonly members: () => MixerMember[],
    /** every interval's contributions by member id (bridge recording) */
    private readonly onMix?: (contributions: Map<string, Int16Array>) => void,
  ) {}

  get running(): boolean {
    return this.#timer !== null;
  }

  feed(id: string, ulaw: Buffer): void {
    const q = this.#queues.get(id) ?? [];
    this.#queues.set(id, q);
    if (q.length > MAX_QUEUED_FRAMES) {
      this.flushed += q.length;
      q.length = 0;
    }
    q.push(ulawDecode(ulaw));
  }

  start(): void {
    if (this.#timer) return;
    this.#start = performance.now();
    this.#tick = 0;
    this.#schedule();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queues.clear();
  }

  #schedule(): void {
    // mix k is due at start + (k + 1) × 20 ms: an absolute clock, so timer delays never add up
    const due = this.#start + (this.#tick + 1) * INTERVAL_MS;
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, due - performance.now()));
  }

  #fire(): void {
    let due = Math.floor((performance.now() - this.#start) / INTERVAL_MS) - this.#tick;
    // after an event-loop stall, skip what is too old instead of bursting it
    if (due > 5) {
      this.#tick += due - 5;
      due = 5;
    }
    for (let i = 0; i < due && this.#timer; i++, this.#tick++) this.#mix();
    if (this.#timer) this.#schedule();
  }

  #mix(): void {
    const members = this.members();
    const frames = new Map<string, Int16Array>();
    for (const m of members) {
      const f = m.muted ? undefined : this.#queues.get(m.id)?.shift();
      if (f) frames.set(m.id, f);
    }
    if (this.moh) frames.set('announcer', mohFrame(this.#mohFrames++));
    this.onMix?.(frames);
    for (const m of members) {
      if (m.muted) continue;
      const sum = new Int32Array(FRAME);
      for (const [id, f] of frames) if (id !== m.id) for (let i = 0; i < FRAME; i++) sum[i]! += f[i]!;
      const out = new Int16Array(FRAME);
      for (let i = 0; i < FRAME; i++) out[i] = Math.max(-32768, Math.min(32767, sum[i]!));
      m.deliver(ulawEncode(out));
    }
  }
}
