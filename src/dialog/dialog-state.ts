import { z } from 'zod';
import { callRecordSchema, intentTurn, transcriptEntry } from '../core/call-record.js';

/**
 * What the session store keeps of a call's dialog: everything another bot process needs to go on with the call where
 * this one left it (after a crash, a drain, a lost ARI link). The store is the one source of truth for it; the process
 * that holds the call writes it on every state change (compare-and-set) and whoever resumes reads it back through
 * this schema, so an entry written by a different version or broken on the way is refused, not half-used.
 */
export const dialogState = z.strictObject({
  /** the greeting was said (a resumed call never greets again) */
  greeted: z.boolean(),
  /** call time when the state was written, ms */
  elapsedMs: z.number().min(0),
  transcript: z.array(transcriptEntry),
  intent: z.string().nullable(),
  slots: z.record(z.string(), z.string()),
  nluConfidence: z.number().nullable(),
  intentTurns: z.array(intentTurn),
  capturedSlots: z.record(z.string(), z.string()),
  closingIntents: z.array(z.string()),
  asrConfidences: z.array(z.number()),
  answeredTurns: z.number().int().min(0),
  lowConfidenceStreak: z.number().int().min(0),
  noInputCount: z.number().int().min(0),
  escalation: z
    .strictObject({
      reason: z.string(),
      target: z.string(),
      outcome: z.enum(['pending', 'answered', 'busy', 'no-answer', 'failed']),
      atMs: z.number().min(0),
    })
    .nullable(),
  transferred: z.boolean(),
  ticketId: z.string().nullable(),
  recording: callRecordSchema.shape.recording.unwrap().nullable(),
  /** the records already handed to the CRM (escalation, end): never submitted twice */
  submitted: z.array(z.enum(['escalation', 'end'])),
});
export type DialogState = z.infer<typeof dialogState>;

/**
 * A stored call the bot handed to a person that is still going on: its state is `ended` for the dialog (no more
 * turns) but its end record is not written yet (`telephony.agentStaysSilent`: the bot listens until the call ends).
 * Whoever takes such a call over only waits for its end and writes that record; it never speaks.
 */
export function awaitsEndAfterHandOff(stored: { state: string; dialog: Record<string, unknown> } | undefined): boolean {
  if (stored?.state !== 'ended') return false;
  const parsed = dialogState.safeParse(stored.dialog);
  return parsed.success && parsed.data.transferred && !parsed.data.submitted.includes('end');
}
