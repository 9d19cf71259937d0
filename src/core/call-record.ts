import { z } from 'zod';

/** What the bot knows about a call, handed to the CRM at escalation and at the end. Versioned JSON. */
export const transcriptEntry = z.strictObject({
  speaker: z.enum(['caller', 'bot', 'agent']),
  text: z.string(),
  /** ms since the call started */
  atMs: z.number().int().min(0),
  /** bot prompt cut short by barge-in: text holds only what was played, followed by " … [interrupted]" */
  interrupted: z.boolean().optional(),
  /** ASR confidence for caller turns */
  confidence: z.number().min(0).max(1).optional(),
});

/** What the bot understood from one caller turn (intent null: not understood). */
export const intentTurn = z.strictObject({
  /** ms since the call started (the caller turn's time) */
  atMs: z.number().int().min(0),
  intent: z.string().nullable(),
  confidence: z.number().min(0).max(1),
});

export const callOutcome = z.enum(['in-progress', 'resolved', 'escalated', 'transfer-failed', 'abandoned', 'error']);

export const callRecordSchema = z.strictObject({
  version: z.literal(1),
  callId: z.string(),
  backend: z.string(),
  /** caller phone number or SIP URI, as the backend gave it */
  phone: z.string(),
  calledNumber: z.string().default(''),
  direction: z.enum(['inbound', 'outbound']).default('inbound'),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().int().min(0),
  outcome: callOutcome,
  /** the call's main intent: what the caller called about (not the closing "goodbye") */
  intent: z.string().nullable(),
  /** what the bot understood from each caller turn, in order */
  intents: z.array(intentTurn).default([]),
  /** every slot captured during the call (a later value for the same slot wins) */
  slots: z.record(z.string(), z.string()).default({}),
  /** mean ASR confidence over caller turns */
  asrConfidence: z.number().min(0).max(1).nullable(),
  /** NLU confidence of the main intent (its best turn) */
  nluConfidence: z.number().min(0).max(1).nullable(),
  summary: z.string(),
  transcript: z.array(transcriptEntry),
  escalation: z
    .strictObject({
      reason: z.string(),
      target: z.string(),
      outcome: z.enum(['pending', 'answered', 'busy', 'no-answer', 'failed']),
      atMs: z.number().int().min(0),
    })
    .optional(),
  /** barge-in on this call: prompts the caller cut short, echo kept from the VAD, false interruptions resumed */
  bargeIn: z
    .strictObject({
      interruptions: z.number().int().min(0),
      suspectedEcho: z.number().int().min(0),
      recovered: z.number().int().min(0),
    })
    .optional(),
  recording: z.strictObject({ path: z.string(), format: z.string(), bytes: z.number().int().optional() }).optional(),
});

export type TranscriptEntry = z.infer<typeof transcriptEntry>;
export type IntentTurn = z.infer<typeof intentTurn>;
export type CallOutcome = z.infer<typeof callOutcome>;
export type CallRecord = z.infer<typeof callRecordSchema>;

/** The moment a record is handed over: escalation (ticket created/updated before the agent picks up) or call end. */
export type CallRecordEvent = 'escalation' | 'end';

/** Port the conversation engine hands records to; the CRM concern implements it over the durable outbox. */
export interface CallRecordSink {
  submit(event: CallRecordEvent, record: CallRecord, signal?: AbortSignal): Promise<void>;
}

/**
 * The record of a call the bot never served (refused before answering: no RTP port, setup failed): nobody must
 * lose a caller silently, so it goes to the CRM like any other, with outcome `error` and the reason as summary.
 */
export function unservedCallRecord(c: {
  callId: string;
  backend: string;
  phone: string;
  calledNumber: string;
  direction: 'inbound' | 'outbound';
  startedAt: Date;
  reason: string;
}): CallRecord {
  const ended = new Date();
  return {
    version: 1,
    callId: c.callId,
    backend: c.backend,
    phone: c.phone,
    calledNumber: c.calledNumber,
    direction: c.direction,
    startedAt: c.startedAt.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: Math.max(0, ended.getTime() - c.startedAt.getTime()),
    outcome: 'error',
    intent: null,
    intents: [],
    slots: {},
    asrConfidence: null,
    nluConfidence: null,
    summary: `Call not served: ${c.reason}`,
    transcript: [],
  };
}
