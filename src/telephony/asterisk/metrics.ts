import type { Registry } from 'prom-client';
import { counter, gauge } from '../../core/metrics.js';

export function asteriskMetrics(registry: Registry) {
  return {
    activeCalls: gauge(registry, 'voicebot_asterisk_active_calls', 'Calls the Asterisk backend holds now'),
    calls: counter(registry, 'voicebot_asterisk_calls_total', 'Calls set up by the Asterisk backend', [
      'direction',
      'result',
    ]),
    invalidEvents: counter(registry, 'voicebot_asterisk_invalid_events_total', 'ARI events dropped at the boundary', [
      'type',
    ]),
    reconnects: counter(registry, 'voicebot_asterisk_reconnects_total', 'ARI event websocket reconnects'),
    transfers: counter(registry, 'voicebot_asterisk_transfers_total', 'Agent transfers by outcome', ['outcome']),
    releaseErrors: counter(registry, 'voicebot_asterisk_release_errors_total', 'ARI errors while releasing a call'),
  };
}
export type AsteriskMetrics = ReturnType<typeof asteriskMetrics>;
