import { randomUUID } from 'node:crypto';
import type { Party } from '../port.js';
import type { AriChannel } from './ari-types.js';
import type { AsteriskCallHost, MediaLease } from './call-host.js';
import { ownId } from './release-retry.js';

/** What a tap uses from its call's backend. */
export type TapHost = Pick<AsteriskCallHost, 'client' | 'router' | 'config' | 'openMedia'>;

/**
 * One person's voice on its own stream, for agentStaysSilent: a Snoop channel with spy=in on their channel (it
 * carries only what they say, never what they hear), in a bridge of its own with an externalMedia channel of ours.
 * The call's mixing bridge cannot tell voices apart; two snoops can. Whisper is none: nothing reaches the person.
 */
export class PartyTap {
  readonly snoopId: string;
  readonly bridgeId: string;
  readonly mediaChannelId: string;
  #media: MediaLease | null = null;

  constructor(
    private readonly host: TapHost,
    readonly party: Party,
    readonly channelId: string,
    private readonly onAudio: (frame: Int16Array) => void,
  ) {
    const { app } = host.config;
    this.snoopId = ownId('snoop', app, randomUUID());
    this.bridgeId = ownId('bridge', app, randomUUID());
    this.mediaChannelId = ownId('media', app, randomUUID());
  }

  /** channels and bridge this tap owns on Asterisk (resync must not sweep them) */
  get ids(): string[] {
    return [this.snoopId, this.bridgeId, this.mediaChannelId];
  }

  async start(signal: AbortSignal): Promise<void> {
    const { client, router, config } = this.host;
    const media = await this.host.openMedia(signal);
    this.#media = media;
    media.link.mute(); // the tap only listens: silence keeps the RTP stream alive, nothing else goes out
    media.link.on('audio', this.onAudio);
    // both channels enter Stasis after the reply that creates them (a thread of their own): claim them first
    router.claim(this.snoopId, () => undefined);
    router.claim(this.mediaChannelId, () => undefined);
    const snoopIn = router.waitForStasis(this.snoopId, config.stasisTimeoutMs, signal);
    const mediaIn = router.waitForStasis(this.mediaChannelId, config.stasisTimeoutMs, signal);
    snoopIn.catch(() => undefined);
    mediaIn.catch(() => undefined);
    await client.snoop(this.channelId, { snoopId: this.snoopId, spy: 'in' }, signal);
    await client.createBridge(this.bridgeId, signal);
    const channel = await client.externalMedia(
      { channelId: this.mediaChannelId, externalHost: hostPort(config.rtpHost, media.port), format: 'ulaw' },
      signal,
    );
    await snoopIn;
    await client.addChannel(this.bridgeId, this.snoopId, signal);
    await mediaIn;
    await client.addChannel(this.bridgeId, this.mediaChannelId, signal);
    media.link.connect(unicastRemote(channel));
  }

  /** Give everything back; `step` runs each Asterisk request so a failed one is retried (never left behind). */
  async release(step: (label: string, run: () => Promise<unknown>) => Promise<void>): Promise<void> {
    const { client, router } = this.host;
    const media = this.#media;
    this.#media = null;
    await media?.close();
    router.release(this.snoopId);
    router.release(this.mediaChannelId);
    await step(`DELETE channel ${this.snoopId}`, () => client.hangup(this.snoopId));
    await step(`DELETE channel ${this.mediaChannelId}`, () => client.hangup(this.mediaChannelId));
    await step(`DELETE bridge ${this.bridgeId}`, () => client.destroyBridge(this.bridgeId));
  }
}

/** Where the UnicastRTP channel listens (UNICASTRTP_LOCAL_ADDRESS:PORT): we send there and accept only from there. */
export function unicastRemote(ch: AriChannel): { address: string; port: number } {
  const address = ch.channelvars?.UNICASTRTP_LOCAL_ADDRESS;
  const port = Number(ch.channelvars?.UNICASTRTP_LOCAL_PORT);
  if (!address || !Number.isInteger(port) || port <= 0)
    throw new Error('externalMedia reply has no UNICASTRTP_LOCAL_ADDRESS/PORT channel variables');
  return { address, port };
}

/** host:port for external_host; IPv6 literals need brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
