import { z } from 'zod';
import type { CallEvent } from '../../core/call-events.js';
import type { CallRecord } from '../../core/call-record.js';

/**
 * The browser test-call wire protocol over one WebSocket.
 * Binary frames both ways: L16 = PCM16 little-endian mono at 16 kHz (caller audio in, bot audio out).
 * Text frames: JSON control messages, below.
 */
export const BROWSER_SAMPLE_RATE = 16000;
/** Largest binary frame accepted from the page: 1 s of audio (pages send 20 ms). */
export const MAX_AUDIO_FRAME_BYTES = BROWSER_SAMPLE_RATE * 2;
/** Largest text frame accepted from the page. */
export const MAX_TEXT_FRAME_BYTES = 4096;

/** Page → server control messages. */
export const clientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hangup') }),
  z.strictObject({ type: z.literal('dtmf'), digit: z.string().regex(/^[0-9*#A-D]$/) }),
  /** after a listening hand-off the page plays the agent too: whose voice the next audio frames are */
  z.strictObject({ type: z.literal('speaker'), speaker: z.enum(['caller', 'agent']) }),
]);

/** Server → page control messages. */
export type ServerMessage =
  | { type: 'ready'; callId: string; sampleRate: number; frameMs: number }
  /** live call events (transcript, state, intent, escalation …) for this call only */
  | { type: 'event'; event: CallEvent }
  /** barge-in: drop whatever bot audio the page still has scheduled */
  | { type: 'clear'; droppedSamples: number }
  /** the bot asked to hand the caller to a person; a browser call cannot dial anyone */
  | {
      type: 'transfer';
      target: { kind: string; address: string };
      headers: Record<string, string>;
      outcome: string;
      /** agentStaysSilent: the bot stays, muted, and the page plays the agent (send `speaker` to switch voices) */
      listening?: boolean;
    }
  | { type: 'ended'; reason: string; record?: CallRecord };
