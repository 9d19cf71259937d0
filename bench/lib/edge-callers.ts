/**
 * Callers at the product's real edges, for the latency and concurrency benches (run in the bench process, never
 * in the bot's):
 *   asterisk: the ARI + RTP emulator (test/emulators/ari): μ-law RTP into the bot's external-media socket;
 *   jambonz:  the jambonz emulator (test/emulators/jambonz): webhook, then L16 on the listen WebSocket, bot audio
 *             heard as the emulated media server plays it out (with its pre-buffer);
 *   browser:  the test-call WebSocket (/test-call/ws) as the page speaks it: L16 16 kHz both ways.
 * Every caller runs a line clock like a phone: one 20 ms frame every 20 ms, silence between turns, so the bot
 * hears a continuous stream. A turn's audio may go faster than real time (`speed`) up to a chosen frame, then in
 * real time; each frame's send time is reported, and every audible frame the caller hears is timestamped.
 */
import { WebSocket } from 'ws';
import { mulawDecode, mulawEncode } from '../../src/media/g711.js';
import { Resampler } from '../../src/media/resampler.js';
import type { AriEmulator, Party } from '../../test/emulators/ari/index.js';
import type { EmulatedCall, JambonzEmulator } from '../../test/emulators/jambonz/index.js';

export type Edge = 'asterisk' | 'jambonz' | 'browser';
export const EDGES: readonly Edge[] = ['asterisk', 'jambonz', 'browser'];

/** A received frame counts as the bot speaking above this peak level (speech, not comfort noise or dither). */
export const AUDIBLE_PEAK = 300;
const FRAME_MS = 20;

export interface TurnAudio {
  /** 16 kHz PCM of the caller's utterance */
  pcm16k: Int16Array;
  /** frames before this index may go at `speed`; from it on, real time */
  realtimeFrom: number;
  speed: number;
}

/** One 20 ms frame of caller audio onto the wire, in the edge's format. */
interface Wire {
  /** 16 kHz samples per frame the caller produces (320) */
  send(frame16k: Int16Array): void;
  hangup(): Promise<void>;
}

export class EdgeCaller {
  /** performance.now() of every audible frame the caller heard */
  readonly audible: number[] = [];
  private queue: { audio: TurnAudio; next: number; onFrame: (i: number, at: number) => void; done: () => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private started = 0;
  private ticks = 0;
  private closed = false;
  private readonly silence = new Int16Array(320);

  constructor(
    readonly edge: Edge,
    private readonly wire: Wire,
  ) {}

  /** Bot audio arriving at the caller (any rate): notes its time if audible. */
  heard(pcm: Int16Array, at: number): void {
    let peak = 0;
    for (let i = 0; i < pcm.length; i++) {
      const v = pcm[i]!;
      if (v > peak) peak = v;
      else if (-v > peak) peak = -v;
    }
    if (peak > AUDIBLE_PEAK) this.audible.push(at);
  }

  /** Start the line clock (silence until a turn is queued). */
  startLine(): void {
    this.started = performance.now();
    this.ticks = 0;
    this.tick();
  }

  /** Queue a turn; resolves when its last frame went out. `onFrame(i, at)` for every frame sent. */
  speak(audio: TurnAudio, onFrame: (i: number, at: number) => void = () => undefined): Promise<void> {
    return new Promise((done) => this.queue.push({ audio, next: 0, onFrame, done }));
  }

  private tick = (): void => {
    if (this.closed) return;
    const now = performance.now();
    const due = Math.floor((now - this.started) / FRAME_MS) + 1;
    for (; this.ticks < due; this.ticks++) {
      const turn = this.queue[0];
      if (!turn) {
        this.wire.send(this.silence);
        continue;
      }
      const frames = Math.ceil(turn.audio.pcm16k.length / 320);
      // before the real-time part, `speed` frames per 20 ms slot
      const burst = turn.next < turn.audio.realtimeFrom ? Math.max(1, Math.floor(turn.audio.speed)) : 1;
      for (let k = 0; k < burst && turn.next < frames; k++) {
        const frame = new Int16Array(320);
        frame.set(turn.audio.pcm16k.subarray(turn.next * 320, (turn.next + 1) * 320));
        this.wire.send(frame);
        turn.onFrame(turn.next, performance.now());
        turn.next++;
        if (turn.next >= turn.audio.realtimeFrom && k + 1 < burst) break;
      }
      if (turn.next >= frames) {
        this.queue.shift();
        turn.done();
      }
    }
    this.timer = setTimeout(this.tick, Math.max(1, this.started + this.ticks * FRAME_MS - performance.now()));
  };

  async hangup(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.queue.splice(0)) t.done();
    await this.wire.hangup();
  }
}

/** 16 kHz → 8 kHz μ-law, as a phone line carries it. */
class NarrowbandEncoder {
  private readonly down = new Resampler(16_000, 8_000);
  encode(frame16k: Int16Array): Buffer {
    return Buffer.from(mulawEncode(this.down.process(frame16k)));
  }
}

export async function asteriskCaller(emu: AriEmulator, from: string): Promise<EdgeCaller> {
  // the caller's own line clock streams silence between turns: the emulator's idle stream would double it
  const party: Party = await emu.placeCall({ from, continuous: false });
  const enc = new NarrowbandEncoder();
  const caller = new EdgeCaller('asterisk', {
    // the emulator's RTP stream sends whatever the party emits as 'frame' (what Party.sendPcm does per frame)
    send: (frame) => void party.emit('frame', enc.encode(frame)),
    hangup: async () => {
      party.hangup();
      await Promise.race([party.ended, new Promise((r) => setTimeout(r, 5000))]);
    },
  });
  party.on('audio', (pcm, at) => caller.heard(pcm, at));
  caller.startLine();
  return caller;
}

export async function jambonzCaller(emu: JambonzEmulator, from: string): Promise<EdgeCaller> {
  const call: EmulatedCall = await emu.placeCall({ from, to: '100' });
  await call.audioReady(10_000);
  const rate = call.audioRate;
  // a phone call reaches jambonz as 8 kHz μ-law; the media server streams it at the listen's rate
  const enc = new NarrowbandEncoder();
  const up = rate === 8000 ? null : new Resampler(8000, rate);
  const caller = new EdgeCaller('jambonz', {
    send: (frame) => {
      const narrow = mulawDecode(enc.encode(frame));
      const pcm = up ? up.process(narrow) : narrow;
      call.sendRaw(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    },
    hangup: () => call.hangup(),
  });
  call.on('played', (pcm: Int16Array, at: number) => caller.heard(pcm, at));
  caller.startLine();
  return caller;
}

export async function browserCaller(botUrl: string): Promise<EdgeCaller> {
  const url = `${botUrl.replace(/^http/, 'ws')}/test-call/ws`;
  const socket = new WebSocket(url);
  socket.binaryType = 'nodebuffer';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('browser test call: no "ready" in 10 s')), 10_000);
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return;
      const msg = JSON.parse(data.toString('utf8')) as { type: string; reason?: string };
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (msg.type === 'ended') reject(new Error(`browser test call ended: ${msg.reason}`));
    });
    socket.on('error', reject);
  });
  await ready;
  const caller = new EdgeCaller('browser', {
    send: (frame) => {
      if (socket.readyState === WebSocket.OPEN)
        socket.send(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    },
    hangup: async () => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'hangup' }));
      await Promise.race([new Promise((r) => socket.once('close', r)), new Promise((r) => setTimeout(r, 5000))]);
      socket.terminate();
    },
  });
  socket.on('message', (data: Buffer, isBinary) => {
    if (!isBinary || data.length % 2 !== 0) return;
    const copy = Buffer.from(data);
    caller.heard(new Int16Array(copy.buffer, copy.byteOffset, copy.length / 2), performance.now());
  });
  caller.startLine();
  return caller;
}
