import type { SoftMixer } from './mixer.js';
import type { Party } from './party.js';
import type { UnicastRtpEndpoint } from './unicast-rtp.js';

export type ChannelKind = 'caller' | 'unicastrtp' | 'dialed' | 'snoop';

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
  /** a Snoop channel: whose audio it carries, and which way (in: what that channel's party says) */
  spy?: { target: string; direction: 'in' | 'out' | 'both' };
  /** the INVITE a dialled channel sent (caller id as the far end saw it) */
  invite?: InviteIdentity;
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
  /** softmix: runs while the bridge has three or more participants */
  mixer: SoftMixer;
}

export interface EndpointBehaviour {
  /**
   * What the far end does when dialled, as a real PJSIP endpoint shows it (FACTS §1b): `busy` answers 486 (a hangup
   * with cause 17), `noanswer` rings until the ARI dial timeout (cause 19, no Dial event) or, with a ringMs shorter
   * than it, gives up with 480 (cause 19), `rejected` answers 603 (cause 21), `unavailable` cannot be reached at all
   * (no contact: channels/create answers 500 Allocation failed). Never a Dial BUSY/NOANSWER.
   */
  answer: 'answer' | 'busy' | 'noanswer' | 'rejected' | 'unavailable';
  /** ring time before answering/busy (ms) */
  ringMs?: number;
}

/** The SIP INVITE the far end of a dialled channel received, as far as caller id goes (res_pjsip_caller_id.c). */
export interface InviteIdentity {
  /** From header */
  from: string;
  /** P-Asserted-Identity (send_pai=yes on the endpoint, as asterisk-config/ sets it); null when not presentable */
  pai: string | null;
}

/** Q.850 cause texts as ChannelDestroyed carries them (main/causes.c). */
export const CAUSE_TXT: Record<number, string> = {
  0: 'Unknown',
  1: 'Unallocated (unassigned) number',
  3: 'No route to destination',
  16: 'Normal Clearing',
  17: 'User busy',
  18: 'No user responding',
  19: 'User alerting, no answer',
  21: 'Call Rejected',
  34: 'Circuit/channel congestion',
};

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
    technology: b.mixer.running ? 'softmix' : 'simple_bridge',
    bridge_type: 'mixing',
    bridge_class: 'stasis',
    creator: 'Stasis',
    name: '',
    channels: [...b.channels],
    creationtime: new Date().toISOString(),
    video_mode: 'none',
  };
}
