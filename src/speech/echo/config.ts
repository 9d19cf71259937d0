import { z } from 'zod';

/** `speech.echo`: telling the bot's own echo from a caller who talks over it (docs/barge-in.md). */
export const echoConfig = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      "Compare caller audio with the bot's own outgoing audio and keep its echo away from the VAD (barge-in ignores the echo).",
    ),
  maxDelayMs: z
    .number()
    .int()
    .min(40)
    .max(1000)
    .default(500)
    .describe(
      'Longest echo delay looked for, ms: the line echo plus the backend jitter buffer. Echo later than this is not recognised.',
    ),
  minErlDb: z
    .number()
    .min(0)
    .max(40)
    .default(30)
    .describe(
      'Echo return loss assumed while the bot talks before the line has been measured (its first 0.3-0.5 s of speech), dB: lower keeps a loud unmeasured echo from the VAD, but also a caller who talks over the first words.',
    ),
  marginDb: z
    .number()
    .min(0)
    .max(30)
    .default(6)
    .describe(
      'How far above the expected echo caller audio must be to count as the caller, dB: higher ignores more echo, and more of a quiet caller.',
    ),
});
export type EchoConfig = z.infer<typeof echoConfig>;
