import type { Counter, Gauge, Registry } from 'prom-client';
import { counter, gauge } from 'voicebot/core';

export interface JambonzMetrics {
  /** bad audio-socket or WS API frames, dropped: label kind */
  malformedFrames: Counter<string>;
  /** HTTP webhooks refused: label reason (missing, malformed, stale, mismatch, bad_payload) */
  rejectedWebhooks: Counter<string>;
  /** frames we refused to send because jambonz would close the socket (> 24 KiB) */
  oversizeFrames: Counter<string>;
  activeCalls: Gauge<string>;
  /** calls that ended before jambonz's audio socket arrived (the bot never ran for them) */
  callsWithoutAudio: Counter<string>;
  audioSockets: Gauge<string>;
  controlSockets: Gauge<string>;
  /** calls another instance served that this one took over (label mode: ws, webhook) */
  takeovers: Counter<string>;
  /**
   * webhooks for a call another instance serves, passed on to it (label outcome: answered, no_answer) or not, because
   * their `via` named an address other than the one the session store gives for that instance (refused)
   */
  hookRelays: Counter<string>;
}

export function jambonzMetrics(registry: Registry): JambonzMetrics {
  return {
    malformedFrames: counter(
      registry,
      'voicebot_jambonz_malformed_frames_total',
      'Malformed frames from jambonz that were dropped',
      ['kind'],
    ),
    rejectedWebhooks: counter(
      registry,
      'voicebot_jambonz_webhook_rejected_total',
      'jambonz webhooks rejected before processing',
      ['reason'],
    ),
    oversizeFrames: counter(
      registry,
      'voicebot_jambonz_oversize_frames_total',
      'Frames not sent to jambonz because they exceed 24 KiB',
    ),
    callsWithoutAudio: counter(
      registry,
      'voicebot_jambonz_calls_without_audio_total',
      'jambonz calls that ended before their audio socket connected (no bot, no ticket)',
    ),
    takeovers: counter(
      registry,
      'voicebot_jambonz_takeovers_total',
      'jambonz calls another instance served that this one took over (session:reconnect or a listen actionHook)',
      ['mode'],
    ),
    hookRelays: counter(
      registry,
      'voicebot_jambonz_hook_relays_total',
      'jambonz webhooks for a call another instance serves: passed on (answered, no_answer), refused (via not its stored address)',
      ['outcome'],
    ),
    activeCalls: gauge(registry, 'voicebot_jambonz_calls_active', 'jambonz calls held by this bot'),
    audioSockets: gauge(registry, 'voicebot_jambonz_audio_sockets', 'Open jambonz listen (audio) sockets'),
    controlSockets: gauge(registry, 'voicebot_jambonz_ws_api_sockets', 'Open jambonz WebSocket API sockets'),
  };
}
