import type { Party } from './party.js';
import type { UnicastRtpEndpoint } from './unicast-rtp.js';

export type ChannelKind = 'caller' | 'unicastrtp' | 'dialed';

export interface EmuChannel {
  id: string;
  name: string;
  kind: ChannelKind;
  state: 'Down' | 'Ring' | 'Ringing' | 'Up';
  app: string;
  caller: { name: string; number: string };
  connected: { name: string; number: string };
  dialplan: { context: string; exten: string; priority: number; app_name: string; app_data: string };
  creationtime: string;
  /** StasisStart has been sent: until then addChannel answers 422 */
  inStasis: boolean;
  bridgeId: string | null;
  /** a /play is running: the channel is out of its bridge */
  playing: { bridgeId: string | null } | null;
  channelvars?: Record<string, string>;
  media?: UnicastRtpEndpoint;
  party?: Party;
  /** channels/create: endpoint and variables as requested */
  endpoint?: string;
  variables?: Record<string, string>;
  dialTimer?: NodeJS.Timeout;
}

export interface EmuRecording {
  name: string;
  bridgeId: string;
  maxSamples: number;
  samples: number[];
  state: 'recording' | 'done';
}

export interface EmuBridge {
  id: string;
  channels: Set<string>;
  moh: boolean;
  recording: EmuRecording | null;
}

export interface EndpointBehaviour {
  /** what the far end does when dialled */
  answer: 'answer' | 'busy' | 'noanswer' | 'unavailable';
  /** ring time before answering/busy (ms) */
  ringMs?: number;
}

export function channelJson(ch: EmuChannel): Record<string, unknown> {
  return {
    id: ch.id,
    name: ch.name,
    state: ch.state,
    protocol_id: '',
    caller: ch.caller,
    connected: ch.connected,
    accountcode: '',
    dialplan: ch.dialplan,
    creationtime: ch.creationtime,
    language: 'en',
    ...(ch.channelvars ? { channelvars: ch.channelvars } : {}),
  };
}

export function bridgeJson(b: EmuBridge): Record<string, unknown> {
  return {
    id: b.id,
    technology: 'simple_bridge',
    bridge_type: 'mixing',
    bridge_class: 'stasis',
    creator: 'Stasis',
    name: '',
    channels: [...b.channels],
    creationtime: new Date().toISOString(),
    video_mode: 'none',
  };
}
