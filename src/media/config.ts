import { z } from 'zod';

export const mediaConfig = z.strictObject({
  /** Jitter buffer depth in 20 ms frames before playout starts. */
  jitterBufferFrames: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(3)
    .describe('Jitter buffer depth in 20 ms frames before playout starts: added latency against robustness.'),
  /** Frames the jitter buffer may hold before it skips the oldest to bound latency (≥ jitterBufferFrames). */
  jitterMaxFrames: z
    .number()
    .int()
    .min(1)
    .max(200)
    .default(10)
    .describe(
      'Frames the jitter buffer may hold before it skips the oldest, to bound latency after bursts (keep a few above jitterBufferFrames).',
    ),
  /** Lost-packet concealment: repeat the last frame fading out, or play silence. */
  concealment: z
    .enum(['fade', 'silence'])
    .default('fade')
    .describe('What a lost packet sounds like: the last frame repeated fading out, or silence.'),
  /** Send comfort silence when the bot has nothing to say (peers such as Asterisk need a steady stream). */
  silenceFill: z
    .boolean()
    .default(true)
    .describe('Send silence while the bot is quiet (Asterisk inserts no comfort noise).'),
  /** After an event-loop stall longer than this many frames, the pacer skips missed slots instead of bursting. */
  pacerMaxCatchUpFrames: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(5)
    .describe(
      'After an event-loop stall longer than this many frames, the pacer skips missed frames instead of bursting them.',
    ),
});
export type MediaConfig = z.infer<typeof mediaConfig>;
