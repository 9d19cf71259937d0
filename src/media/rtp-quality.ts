import type { Counter, Registry } from 'prom-client';
import { counter } from '../core/metrics.js';

export type RtpQualityKind = 'lost' | 'late' | 'duplicate' | 'reordered';
export type RtpQualityCounters = Record<RtpQualityKind, Counter.Internal>;

/**
 * The caller stream's quality as the jitter buffer sees it, one series per kind so a dashboard can plot loss, late,
 * duplicate and reordered packets side by side. Children are bound once: a call increments them per packet.
 */
export function rtpQualityCounters(registry: Registry): RtpQualityCounters {
  const c = counter(
    registry,
    'voicebot_rtp_stream_packets_total',
    'Caller RTP stream anomalies at the jitter buffer: lost (concealed at playout), late, duplicate, reordered (out of order, still played in order)',
    ['kind'],
  );
  return {
    lost: c.labels({ kind: 'lost' }),
    late: c.labels({ kind: 'late' }),
    duplicate: c.labels({ kind: 'duplicate' }),
    reordered: c.labels({ kind: 'reordered' }),
  };
}
