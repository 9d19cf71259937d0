import { VoicebotError } from '../core/errors.js';

/** DTMF as RFC 4733 telephone-events: payload parse/build and a detector that yields one digit per event. */

export const DTMF_DIGITS = '0123456789*#ABCD';
/** Payload type commonly negotiated for telephone-event. */
export const DEFAULT_DTMF_PAYLOAD_TYPE = 101;

export interface TelephoneEvent {
  event: number;
  /** '0'-'9', '*', '#', 'A'-'D'; '' for events that are not DTMF digits (e.g. 16 = flash). */
  digit: string;
  end: boolean;
  /** Power level in -dBm0 (0-63). */
  volume: number;
  /** Duration so far, in RTP timestamp units. */
  duration: number;
}

export interface DtmfEvent {
  digit: string;
  event: number;
  /** RTP timestamp shared by all packets of the event. */
  timestamp: number;
  /** Duration in RTP timestamp units (the last one seen). */
  duration: number;
  volume: number;
  /** False when the end packets were lost and the event was closed by the next one. */
  endSeen: boolean;
}

export class DtmfError extends VoicebotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { kind: 'protocol', ...options });
  }
}

export function parseTelephoneEvent(payload: Buffer): TelephoneEvent {
  if (payload.length < 4) throw new DtmfError(`telephone-event payload is ${payload.length} bytes, needs 4`);
  const event = payload[0]!;
  return {
    event,
    digit: DTMF_DIGITS[event] ?? '',
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: payload.readUInt16BE(2),
  };
}

export function buildTelephoneEvent(e: { event: number; end: boolean; volume?: number; duration: number }): Buffer {
  const buf = Buffer.alloc(4);
  buf[0] = e.event;
  buf[1] = (e.end ? 0x80 : 0) | ((e.volume ?? 10) & 0x3f);
  buf.writeUInt16BE(Math.min(0xffff, e.duration), 2);
  return buf;
}

export function dtmfEventCode(digit: string): number {
  const code = DTMF_DIGITS.indexOf(digit.toUpperCase());
  if (digit.length !== 1 || code < 0) throw new DtmfError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  return code;
}

export interface TelephoneEventPacket {
  payload: Buffer;
  /** Set on the first packet of the event (RFC 4733 §2.5.1.3). */
  marker: boolean;
  end: boolean;
}

/**
 * The packets of one digit: one per `packetMs` with a growing duration, then `endRepeats` copies of the end
 * packet. All share one RTP timestamp (the event start): the sender stamps them and paces them `packetMs` apart.
 */
export function* telephoneEventPackets(
  digit: string,
  opts: { durationMs?: number; volume?: number; sampleRate?: number; packetMs?: number; endRepeats?: number } = {},
): Generator<TelephoneEventPacket> {
  const event = dtmfEventCode(digit);
  const { durationMs = 100, volume = 10, sampleRate = 8000, packetMs = 20, endRepeats = 3 } = opts;
  const step = (sampleRate * packetMs) / 1000;
  const total = Math.round((sampleRate * durationMs) / 1000);
  let duration = 0;
  let first = true;
  while (duration + step < total) {
    duration += step;
    yield { payload: buildTelephoneEvent({ event, end: false, volume, duration }), marker: first, end: false };
    first = false;
  }
  for (let i = 0; i < endRepeats; i++) {
    yield { payload: buildTelephoneEvent({ event, end: true, volume, duration: total }), marker: first, end: true };
    first = false;
  }
}

/**
 * Turns telephone-event packets into one DtmfEvent per key press: reports the event when its first end packet
 * arrives, ignores the repeated end packets and retransmissions, and closes an event whose end packets were
 * lost when the next event (a new timestamp) starts.
 */
export class DtmfDetector {
  #current: { timestamp: number; event: TelephoneEvent } | null = null;
  #lastReported: number | null = null;

  /** Feeds one packet; returns the finished event(s) (0, 1, or 2 when a lost end is implied). */
  push(packet: { timestamp: number; payload: Buffer }): DtmfEvent[] {
    const ev = parseTelephoneEvent(packet.payload);
    const out: DtmfEvent[] = [];
    if (packet.timestamp === this.#lastReported) return out; // repeated end packets
    if (this.#current && this.#current.timestamp !== packet.timestamp) {
      out.push(this.#report(false));
    }
    this.#current = { timestamp: packet.timestamp, event: ev };
    if (ev.end) out.push(this.#report(true));
    return out;
  }

  /** Reports an event still open (end packets lost), e.g. at hangup. */
  flush(): DtmfEvent | null {
    return this.#current ? this.#report(false) : null;
  }

  #report(endSeen: boolean): DtmfEvent {
    const { timestamp, event } = this.#current!;
    this.#current = null;
    this.#lastReported = timestamp;
    return {
      digit: event.digit,
      event: event.event,
      timestamp,
      duration: event.duration,
      volume: event.volume,
      endSeen,
    };
  }
}
