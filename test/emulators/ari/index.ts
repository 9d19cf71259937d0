/**
 * ARI + RTP emulator (a faithful stand-in for Asterisk 22 per FACTS §1) and SIP-less callers.
 *
 *   const emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'busy' } } });
 *   // point the bot at emu.url with emu.username / emu.password
 *   const caller = await emu.placeCall({ from: '+15551234567', to: '100' });   // rejects CallRejected(603) if no app
 *   await caller.sendWav('../shared/audio/jfk.wav', { speed: 1 });             // μ-law RTP via the externalMedia leg
 *   caller.dtmf('0'); caller.hangup(); caller.receivedPcm(); await caller.ended;
 */
import { AriEmulator, type AriEmulatorOptions } from './emulator.js';

export {
  AriEmulator,
  CallRejected,
  type AriEmulatorOptions,
  type LoggedRequest,
  type PlaceCallOptions,
} from './emulator.js';
export { Party, peak, type StreamOptions } from './party.js';
export { STRICT_RTP_PROBATION, UnicastRtpEndpoint } from './unicast-rtp.js';
export type { EndpointBehaviour, EmuChannel, EmuBridge } from './model.js';
export { readPcmWav, to8k, ulawDecode, ulawEncode, writePcmWav, RtpStream, parseRtpPacket } from './wire.js';

export async function startAriEmulator(opts: AriEmulatorOptions = {}): Promise<AriEmulator> {
  const emu = new AriEmulator(opts);
  await emu.listen();
  return emu;
}
