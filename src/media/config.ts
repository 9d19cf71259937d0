import { z } from 'zod';

export const mediaConfig = z.strictObject({
  /** Jitter buffer depth in 20 ms frames before playout starts. */
  jitterBufferFrames: z.number().int().min(1).max(50).default(3),
  /** Frames the jitter buffer may hold before it skips the oldest to bound latency (≥ jitterBufferFrames). */
  jitterMaxFrames: z.number().int().min(1).max(200).default(10),
  /** Lost-packet concealment: repeat the last frame fading out, or play silence. */
  concealment: z.enum(['fade', 'silence']).default('fade'),
  /** Send comfort silence when the bot has nothing to say (peers such as Asterisk need a steady stream). */
  silenceFill: z.boolean().default(true),
  /** After an event-loop stall longer than this many frames, the pacer skips missed slots instead of bursting. */
  pacerMaxCatchUpFrames: z.number().int().min(1).max(50).default(5),
});
export type MediaConfig = z.infer<typeof mediaConfig>;
