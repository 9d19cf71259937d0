import { z } from 'zod';

/**
 * The slice of the ARI data model we use, checked at the boundary. Objects are loose (Asterisk adds fields
 * between versions); only the fields we read are required.
 */
export const ariCallerId = z.looseObject({ name: z.string().default(''), number: z.string().default('') });

export const ariChannel = z.looseObject({
  id: z.string().min(1),
  name: z.string().default(''),
  state: z.string().default('Unknown'),
  caller: ariCallerId.prefault({}),
  connected: ariCallerId.prefault({}),
  dialplan: z
    .looseObject({ context: z.string().default(''), exten: z.string().default(''), priority: z.number().default(1) })
    .optional(),
  creationtime: z.string().optional(),
  channelvars: z.record(z.string(), z.string().nullable()).optional(),
});
export type AriChannel = z.infer<typeof ariChannel>;

export const ariBridge = z.looseObject({
  id: z.string().min(1),
  technology: z.string().default(''),
  bridge_type: z.string().default('mixing'),
  bridge_class: z.string().default(''),
  channels: z.array(z.string()).default([]),
  name: z.string().default(''),
});
export type AriBridge = z.infer<typeof ariBridge>;

/** A Stasis application (GET /applications/{name}, res/stasis/app.c app_to_json): what it is subscribed to. */
export const ariApplication = z.looseObject({
  name: z.string(),
  channel_ids: z.array(z.string()).default([]),
  bridge_ids: z.array(z.string()).default([]),
});
export type AriApplication = z.infer<typeof ariApplication>;

export const ariLiveRecording = z.looseObject({
  name: z.string(),
  format: z.string().default('wav'),
  state: z.string().default('queued'),
  target_uri: z.string().default(''),
  duration: z.number().optional(),
  cause: z.string().optional(),
});
export type AriLiveRecording = z.infer<typeof ariLiveRecording>;

const base = { timestamp: z.string().optional(), application: z.string().optional() };

export const stasisStart = z.looseObject({
  type: z.literal('StasisStart'),
  ...base,
  channel: ariChannel,
  args: z.array(z.string()).default([]),
  replace_channel: ariChannel.optional(),
});
export const stasisEnd = z.looseObject({ type: z.literal('StasisEnd'), ...base, channel: ariChannel });
export const channelDestroyed = z.looseObject({
  type: z.literal('ChannelDestroyed'),
  ...base,
  channel: ariChannel,
  cause: z.number().optional(),
  cause_txt: z.string().optional(),
  /** the SIP code behind the cause (Asterisk 20+) */
  tech_cause: z.number().optional(),
});
export const channelHangupRequest = z.looseObject({
  type: z.literal('ChannelHangupRequest'),
  ...base,
  channel: ariChannel,
  cause: z.number().optional(),
  tech_cause: z.number().optional(),
  soft: z.boolean().optional(),
});
export const channelDtmfReceived = z.looseObject({
  type: z.literal('ChannelDtmfReceived'),
  ...base,
  channel: ariChannel,
  digit: z.string().regex(/^[0-9A-D*#]$/),
  duration_ms: z.number().optional(),
});
export const channelStateChange = z.looseObject({
  type: z.literal('ChannelStateChange'),
  ...base,
  channel: ariChannel,
});
export const dial = z.looseObject({
  type: z.literal('Dial'),
  ...base,
  peer: ariChannel,
  caller: ariChannel.optional(),
  dialstatus: z.string().default(''),
  dialstring: z.string().optional(),
});
export const bridgeDestroyed = z.looseObject({ type: z.literal('BridgeDestroyed'), ...base, bridge: ariBridge });
export const recordingFinished = z.looseObject({
  type: z.literal('RecordingFinished'),
  ...base,
  recording: ariLiveRecording,
});
export const recordingFailed = z.looseObject({
  type: z.literal('RecordingFailed'),
  ...base,
  recording: ariLiveRecording,
});

export const ariEvent = z.discriminatedUnion('type', [
  stasisStart,
  stasisEnd,
  channelDestroyed,
  channelHangupRequest,
  channelDtmfReceived,
  channelStateChange,
  dial,
  bridgeDestroyed,
  recordingFinished,
  recordingFailed,
]);
export type AriEvent = z.infer<typeof ariEvent>;

export const KNOWN_EVENT_TYPES = new Set<string>(ariEvent.options.map((o) => o.shape.type.value));

/** Routing key of an event: the channel it is about, or `recording:NAME` for recording events. */
export function eventRouteKey(ev: AriEvent): string | undefined {
  switch (ev.type) {
    case 'Dial':
      return ev.peer.id;
    case 'BridgeDestroyed':
      return undefined;
    case 'RecordingFinished':
    case 'RecordingFailed':
      return recordingKey(ev.recording.name);
    default:
      return ev.channel.id;
  }
}

export const recordingKey = (name: string): string => `recording:${name}`;
