import type { Registry } from 'prom-client';
import type { CallEventBus } from '../../core/call-events.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../log/logger.js';
import type { MediaConfig } from '../../media/config.js';
import type { SessionStore } from '../../session/store.js';
import type { AsteriskConfig } from '../config.js';
import type { TransferOutcome } from '../port.js';
import type { AriClient } from './ari-client.js';
import type { ChannelRouter } from './channel-router.js';
import { MediaLink } from './media-link.js';
import type { RtpPortPool } from './port-pool.js';

/** The settings one call reads: id prefix, where Asterisk sends RTP, Stasis waits, hand-off, dialling, recording. */
export type AsteriskCallSettings = Pick<
  AsteriskConfig,
  'app' | 'rtpHost' | 'stasisTimeoutMs' | 'dialTemplates' | 'recording'
>;

/** An RTP port leased for one call with the media link open on it; `close` gives both back, once. */
export interface MediaLease {
  port: number;
  link: MediaLink;
  close(): Promise<void>;
}

/**
 * What one Asterisk call uses from its backend (shared, long-lived, never per call): the ARI link and its channel
 * events, RTP media, the session store, and three things it reports back. The port pool, the metrics registry,
 * the media section, the release retrier and the TTS stay with the backend.
 */
export interface AsteriskCallHost {
  client: AriClient;
  router: ChannelRouter;
  config: AsteriskCallSettings;
  sessions: SessionStore;
  logger: Logger;
  /** dial timeouts and Stasis waits run on this clock (tests: a fake one) */
  clock: Clock;
  /** where the recorder publishes its `recording` CallEvent */
  events?: CallEventBus | undefined;
  /** Lease an RTP port (`port`: exactly that one, to reattach) and open the media link on it. */
  openMedia(signal: AbortSignal, port?: number): Promise<MediaLease>;
  /** A release step failed for a reason other than "gone": count it and retry it in the background. */
  releaseFailed(label: string, step: () => Promise<unknown>): void;
  /** A transfer finished with this outcome (metrics). */
  transferred(outcome: TransferOutcome): void;
  /** The call released everything it held; the backend forgets it. */
  released(callId: string): void;
}

/** openMedia over a port pool: bind the RTP socket on a free port, wrap it in a paced, jitter-buffered link. */
export function mediaOpener(deps: {
  ports: RtpPortPool;
  bindHost: string;
  media: MediaConfig;
  registry: Registry;
}): AsteriskCallHost['openMedia'] {
  const { ports, bindHost, media, registry } = deps;
  return async (signal, only) => {
    const { port, value: rtp } = await ports.lease((p) => {
      if (only !== undefined && p !== only) throw Object.assign(new Error('not our port'), { code: 'EADDRINUSE' });
      return MediaLink.open(bindHost, p, registry, signal);
    }, signal);
    const link = new MediaLink(rtp, { media, metrics: registry });
    let closed: Promise<void> | null = null;
    return {
      port,
      link,
      close: () =>
        (closed ??= (async () => {
          await link.close();
          ports.release(port);
        })()),
    };
  };
}
