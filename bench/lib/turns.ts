/**
 * Caller turns from the shared clips, for the edge benches. Every clip is used: one with natural pauses long
 * enough for the bot's end-of-turn (found by running the product's own Silero VAD over the clip as the phone
 * line delivers it) becomes a multi-turn caller, one turn per utterance, cut in the middle of each pause. Each
 * turn knows its last voiced 20 ms frame (lastVoicedFrame: loud relative to its peak and its noise floor, after
 * μ-law), where latency starts.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { mulawDecode, mulawEncode } from '../../src/media/g711.js';
import { readWavFile } from '../../src/media/wav.js';
import { vadConfig } from '../../src/speech/config.js';
import { createVadFactory } from '../../src/speech/vad/silero.js';
import { telephonePath } from '../../test/speech/helpers.js';
import { TRANSCRIPTS_TSV, VAD_MODEL, clip } from '../../test/helpers/fixtures.js';

const RATE = 16_000;
const FRAME = 320;

export interface Turn {
  clip: string;
  /** index of the utterance within its clip */
  part: number;
  parts: number;
  pcm16k: Int16Array;
  /** index of the last voiced 20 ms frame */
  lastVoicedFrame: number;
}

export interface ClipTurns {
  clip: string;
  seconds: number;
  turns: Turn[];
}

/**
 * Last 20 ms frame of speech as heard through μ-law: within `belowPeakDb` of the loudest frame, at least
 * `aboveFloorDb` above the recording's noise floor (its quietest tenth of frames) and above an absolute floor.
 * Why the noise floor: on a noisy recording (hiss 23-35 dB below the speech peak: several shared clips) "within
 * 35 dB of the peak" alone also takes the noise after the last word, which put a turn's end up to 0.5 s after
 * the speech (and after the end Silero finds) and cut that much off its latency: the 298-584 ms samples of the
 * clip with the lowest peak (bench report, turn-latency, before this rule).
 */
export function lastVoicedFrame(pcm16k: Int16Array, belowPeakDb = 35, aboveFloorDb = 10): number {
  const heard = mulawDecode(mulawEncode(pcm16k));
  const rms: number[] = [];
  for (let at = 0; at + FRAME <= heard.length; at += FRAME) {
    let sum = 0;
    for (let i = at; i < at + FRAME; i++) sum += heard[i]! * heard[i]!;
    rms.push(Math.sqrt(sum / FRAME));
  }
  const sorted = [...rms].sort((a, b) => a - b);
  const floor = sorted[Math.floor((sorted.length - 1) * 0.1)] ?? 0;
  const threshold = Math.max(
    (sorted[sorted.length - 1] ?? 0) * 10 ** (-belowPeakDb / 20),
    floor * 10 ** (aboveFloorDb / 20),
    60,
  );
  for (let i = rms.length - 1; i >= 0; i--) if (rms[i]! >= threshold) return i;
  return rms.length - 1;
}

/** The utterances the product's VAD (default settings unless `vad` says otherwise) hears in a clip, in ms. */
function utterances(pcm16k: Int16Array, vad: ReturnType<typeof createVadFactory>): Array<[number, number]> {
  const v = vad.create();
  const audio = new Int16Array(pcm16k.length + RATE * 2);
  audio.set(telephonePath(pcm16k));
  const spans: Array<[number, number]> = [];
  for (let at = 0; at < audio.length; at += FRAME) {
    for (const e of v.push(audio.subarray(at, at + FRAME)))
      if (e.type === 'speechEnd') spans.push([e.startMs, e.endMs]);
  }
  v.close();
  return spans;
}

export async function loadClipTurns(vadOverrides: Record<string, unknown> = {}): Promise<ClipTurns[]> {
  const vad = createVadFactory(
    vadConfig.parse({ modelPath: VAD_MODEL, ...vadOverrides }),
    pino({ level: 'silent' }),
    new Registry(),
  );
  const out: ClipTurns[] = [];
  for (const line of readFileSync(TRANSCRIPTS_TSV, 'utf8').trim().split('\n')) {
    const file = line.split('\t')[0]!;
    const wav = await readWavFile(clip(file));
    const pcm = wav.samples;
    const spans = utterances(pcm, vad);
    // cut in the middle of each pause between utterances (on a frame boundary)
    const cuts = [0];
    for (let i = 1; i < spans.length; i++) {
      const mid = ((spans[i - 1]![1] + spans[i]![0]) / 2 / 1000) * RATE;
      cuts.push(Math.min(pcm.length, Math.round(mid / FRAME) * FRAME));
    }
    cuts.push(pcm.length);
    const pieces = cuts.slice(1).map((end, i) => pcm.subarray(cuts[i], end));
    out.push({
      clip: file,
      seconds: pcm.length / RATE,
      turns: pieces.map((p, part) => ({
        clip: file,
        part,
        parts: pieces.length,
        pcm16k: p,
        lastVoicedFrame: lastVoicedFrame(p),
      })),
    });
  }
  return out;
}
