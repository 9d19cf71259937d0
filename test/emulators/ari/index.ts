/**
 * ARI + RTP emulator (a faithful stand-in for Asterisk 22 per FACTS §1) and SIP-less parties.
 *
 *   const emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'busy', ringMs: 50 } } });
 *   emu.ariConfig();                      // {url, username, password, app} for telephony.asterisk
 *   const caller = await emu.placeCall({ from: '+15551234567', to: '100' }); // rejects CallRejected(603) if no app
 *   await caller.sendWav('test/fixtures/audio/jfk.wav', { speed: 1 }); // μ-law RTP into the bridge (speed 0 = burst)
 *   caller.dtmf('0'); caller.hangup(); caller.receivedPcm(); caller.audibleMs(); await caller.ended;
 *   emu.on('party', (agentOrCallee, endpoint) => …);  // channels the app originates get a Party too
 *   emu.dropWebsockets(refuseMs);          // events are lost until the app reconnects
 *   emu.requestsTo('POST', /\/channels\/create$/)[0].body.variables   // every REST request is logged
 *   emu.channels / emu.bridges / emu.mediaEndpoints[i].stats / emu.lostEvents   // leak and quirk checks
 *
 * Quirks reproduced: externalMedia replies before its StasisStart (early addChannel → 422); StasisStart for every
 * channel in the app (UnicastRTP, originated); strict RTP (a new source is learned after 4 packets, earlier ones
 * dropped); no audio to the caller until the app sends; slin16 sends PT 118 but drops audio sent back; /play takes
 * the channel out of its bridge; events lost while no websocket is connected; 603 when no app is connected; a
 * caller hangup gives ChannelHangupRequest/StasisEnd/ChannelDestroyed without a useful cause. Dialling (FACTS §1b):
 * busy / no answer / rejected are hangups with a cause and SIP tech_cause (never Dial BUSY/NOANSWER), the ARI dial
 * timeout hangs up with cause 19, an unreachable endpoint fails channels/create with 500; channels/create ignores
 * callerId (the far end sees Anonymous unless dial?caller= or CONNECTEDLINE(...) set the connected line:
 * `party.invite`); /dial before the channel's StasisStart answers 409.
 */
import { AriEmulator, type AriEmulatorOptions } from './emulator.js';

export {
  AriEmulator,
  CallRejected,
  StasisFailed,
  type AriEmulatorOptions,
  type LoggedRequest,
  type PlaceCallOptions,
} from './emulator.js';
export { type OutboundWebsocketConfig, parseRestRequest } from './outbound.js';
export { Party, peak, type DialplanLocation, type StreamOptions } from './party.js';
export { STRICT_RTP_PROBATION, UnicastRtpEndpoint } from './unicast-rtp.js';
export type { EndpointBehaviour, EmuChannel, EmuBridge } from './model.js';
export { readPcmWav, to8k, ulawDecode, ulawEncode, writePcmWav, RtpStream, parseRtpPacket } from './wire.js';

export async function startAriEmulator(opts: AriEmulatorOptions = {}): Promise<AriEmulator> {
  const emu = new AriEmulator(opts);
  await emu.listen();
  return emu;
}
