import { z } from 'zod';

/** `speech.echo`: telling the bot's own echo from a caller who talks over it (docs/barge-in.md). */
export const echoConfig = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      "Compare caller audio with the bot's own outgoing audio and keep its echo away from the VAD (barge-in ignores the echo).",
    ),
  cancel: z
    .boolean()
    .default(true)
    .describe(
      "Subtract the bot's echo sample by sample before the echo guard (an adaptive frequency-domain filter placed at the measured delay, which keeps learning while the caller talks over the bot): a caller talking over the bot is heard at any echo level, not only when louder than the echo, and sooner. Off: the level guard alone (about 6 ms of CPU per call-second instead of 15; callers below their line's echo are held back).",
    ),
  filterMs: z
    .number()
    .int()
    .min(2)
    .max(128)
    .default(32)
    .describe(
      "Span of the echo canceller's filter around the measured delay, ms: the line's impulse response plus a frame of jitter. Longer covers longer (acoustic) echo tails, costs CPU in proportion and converges more slowly.",
    ),
  fastOnset: z
    .boolean()
    .default(true)
    .describe(
      "Stop the bot as soon as the echo handling passes speech.vad.interruptionMs of loud audio while it talks (once it has measured the line), without waiting for the VAD's slower decision; the prompt resumes if the VAD does not confirm speech within 1.2 s.",
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
    .default(6)
    .describe(
      "Echo return loss assumed before the line has been measured, dB: from the bot's first words until its audio has had time to come back over the whole maxDelayMs range and be measured (about 0.7-1 s). Lower keeps a loud first echo from the VAD (a TTS prompt starts with digital silence, so nothing measures the line before its echo is back); higher lets a caller who talks over the first words through sooner.",
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
