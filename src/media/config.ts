import { z } from 'zod';

export const mediaConfig = z.strictObject({
  /** Jitter buffer depth in 20 ms frames before playout starts. */
  jitterBufferFrames: z.number().int().min(1).max(50).default(3),
  /** Send comfort silence when the bot has nothing to say (peers such as Asterisk need a steady stream). */
  silenceFill: z.boolean().default(true),
});
export type MediaConfig = z.infer<typeof mediaConfig>;
