import { z } from 'zod';
import type { WebSocket } from 'ws';

/** The call as jambonz describes it (webhook body, WS API `data`): snake_case, many more keys than we use. */
export const callPayloadSchema = z.looseObject({
  call_sid: z.string().min(1),
  from: z.string().default(''),
  to: z.string().default(''),
  direction: z.enum(['inbound', 'outbound']).default('inbound'),
  call_status: z.string().optional(),
  sip_status: z.union([z.number(), z.string()]).optional(),
  account_sid: z.string().optional(),
  parent_call_sid: z.string().optional(),
});
export type CallPayload = z.infer<typeof callPayloadSchema>;

/** `data` of a WS API call:status: the leg it is about (the caller's, or a dialled agent's with its parent). */
export const callStatusDataSchema = z.looseObject({
  call_sid: z.string().min(1).optional(),
  parent_call_sid: z.string().min(1).optional(),
  call_status: z.string().min(1),
  sip_status: z.union([z.number(), z.string()]).optional(),
});

/** Payload of the dial verb's actionHook (the code sends dial_call_status; the docs say dial_status). */
export const dialOutcomeSchema = z.looseObject({
  call_sid: z.string().min(1),
  dial_call_status: z.string().optional(),
  dial_status: z.string().optional(),
  dial_sip_status: z.union([z.number(), z.string()]).optional(),
});

/** Any message on the WebSocket API. */
export const wsApiMessageSchema = z.looseObject({
  type: z.string().min(1),
  msgid: z.string().optional(),
  call_sid: z.string().optional(),
  hook: z.string().optional(),
  data: z.unknown().optional(),
});
export type WsApiMessage = z.infer<typeof wsApiMessageSchema>;

/** First text frame on a listen socket: camelCase call info, sampleRate, and our metadata keys at top level. */
export const audioMetadataSchema = z.looseObject({
  callSid: z.string().min(1),
  sampleRate: z.number().int().positive().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  direction: z.string().optional(),
  /** stereo: the dial's nested listen after a hand-off (caller left, agent right) */
  mixType: z.string().optional(),
});

/** Text frames jambonz sends on a listen socket after the metadata. */
const dtmfEventSchema = z.looseObject({ event: z.literal('dtmf'), dtmf: z.string().min(1) });
const markEventSchema = z.looseObject({
  type: z.literal('mark'),
  data: z.looseObject({ name: z.string(), event: z.enum(['playout', 'cleared']) }),
});

export type AudioEvent =
  { kind: 'dtmf'; digits: string } | { kind: 'mark'; name: string; event: 'playout' | 'cleared' };

/** null when the frame is no event we know. */
export function parseAudioEvent(value: unknown): AudioEvent | null {
  const dtmf = dtmfEventSchema.safeParse(value);
  if (dtmf.success) return { kind: 'dtmf', digits: dtmf.data.dtmf };
  const mark = markEventSchema.safeParse(value);
  if (mark.success) return { kind: 'mark', name: mark.data.data.name, event: mark.data.data.event };
  return null;
}

/** jambonz closes the WS API socket (1009) on any frame over 24 KiB from the app. */
export const MAX_FRAME_BYTES = 24 * 1024;

export type SendResult = 'sent' | 'oversize' | 'closed';

/** Sends one JSON text frame, refusing anything jambonz would reject for size. */
export function sendJson(socket: WebSocket, message: unknown): SendResult {
  if (socket.readyState !== socket.OPEN) return 'closed';
  const text = JSON.stringify(message);
  if (Buffer.byteLength(text) > MAX_FRAME_BYTES) return 'oversize';
  socket.send(text);
  return 'sent';
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}
