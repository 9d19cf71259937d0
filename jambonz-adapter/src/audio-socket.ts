import type { RawData, WebSocket } from 'ws';
import type { JambonzBackend } from './backend.js';
import type { JambonzCallLeg } from './call-leg.js';
import { audioMetadataSchema, parseAudioEvent, parseJson } from './messages.js';
import { l16ToPcm } from './pcm.js';
import { WarnLimiter } from 'voicebot/log';

/** jambonz sets audio.jambonz.org; the underlying mod_audio_fork default is audio.drachtio.org. */
export const AUDIO_SUBPROTOCOLS = ['audio.jambonz.org', 'audio.drachtio.org'];

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * One listen socket: the first text frame is the metadata, then binary L16 frames of caller audio and
 * text events (dtmf, mark). Anything malformed is counted and dropped; the call goes on.
 */
export function acceptAudioSocket(socket: WebSocket, authUser: string, backend: JambonzBackend): void {
  const log = backend.logger.child({ callSid: authUser, socket: 'audio' });
  // a peer can send garbage at line rate: every frame is counted, only a few per kind are logged
  const warnings = new WarnLimiter(log);
  const malformed = (kind: string): void => {
    backend.metrics.malformedFrames.inc({ kind });
    warnings.warn(kind, {}, 'dropped malformed frame on jambonz audio socket');
  };
  if (socket.protocol !== '' && !AUDIO_SUBPROTOCOLS.includes(socket.protocol)) {
    log.warn({ protocol: socket.protocol }, 'unexpected audio subprotocol');
    socket.close(1002, 'unsupported subprotocol');
    return;
  }
  backend.audioSocketOpened(socket);
  let leg: JambonzCallLeg | undefined;
  /** the hand-off stream (stereo, listen nested in the dial): one way, caller and agent interleaved */
  let handOff = false;

  socket.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = toBuffer(data);
    if (isBinary) {
      if (!leg) return malformed('binary_before_metadata');
      if (bytes.length % (handOff ? 4 : 2) !== 0) return malformed('odd_length');
      if (handOff) leg.receiveHandOffAudio(l16ToPcm(bytes));
      else leg.receiveAudio(l16ToPcm(bytes));
      return;
    }
    const parsed = parseJson(bytes.toString('utf8'));
    if (!parsed.ok) return malformed('not_json');
    if (!leg) {
      const meta = audioMetadataSchema.safeParse(parsed.value);
      if (!meta.success) return malformed('bad_metadata');
      if (meta.data.callSid !== authUser) {
        log.warn('audio metadata names another call than its credentials');
        socket.close(1008, 'call mismatch');
        return;
      }
      const found = backend.leg(authUser);
      if (!found) {
        socket.close(1000, 'call ended');
        return;
      }
      leg = found;
      handOff = meta.data.mixType === 'stereo';
      if (handOff) leg.attachHandOffAudio(socket, meta.data.sampleRate ?? 8000);
      else leg.attachAudio(socket, meta.data.sampleRate ?? leg.inputSampleRate);
      return;
    }
    const event = parseAudioEvent(parsed.value);
    if (!event) return malformed('unknown_event');
    leg.receiveEvent(event);
  });

  socket.on('error', (err) => log.warn({ err: err.message }, 'jambonz audio socket error'));
  socket.once('close', () => {
    warnings.flush();
    backend.audioSocketClosed(socket);
    if (handOff) leg?.handOffAudioClosed(socket);
    else leg?.audioClosed(socket);
    socket.removeAllListeners('message');
  });
}
