import type { Registry } from 'prom-client';
import type { CallEventBus } from '../../core/call-events.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../log/logger.js';
import type { MediaConfig } from '../../media/config.js';
import type { SessionStore } from '../../session/store.js';
import type { Tts } from '../../speech/types.js';
import type { AsteriskConfig } from '../config.js';
import type { AriClient } from './ari-client.js';
import type { ChannelRouter } from './channel-router.js';
import type { AsteriskMetrics } from './metrics.js';
import type { RtpPortPool } from './port-pool.js';
import type { ReleaseRetrier } from './release-retry.js';

/** What every Asterisk call needs from the backend: shared, long-lived, never per call. */
export interface AsteriskContext {
  client: AriClient;
  router: ChannelRouter;
  ports: RtpPortPool;
  config: AsteriskConfig;
  /** the `media` section: jitter buffer, concealment, silence fill (Asterisk inserts no comfort noise), pacing */
  media: MediaConfig;
  logger: Logger;
  /** dial timeouts, Stasis waits and reconnect backoff run on this clock (tests: a fake one) */
  clock: Clock;
  registry: Registry;
  metrics: AsteriskMetrics;
  sessions: SessionStore;
  events?: CallEventBus | undefined;
  /** speaks the recording notice */
  tts?: Tts | undefined;
  /** retries failed release steps in the background */
  releases?: ReleaseRetrier;
  /** the call released everything it held */
  onCallReleased?: (callId: string) => void;
}
