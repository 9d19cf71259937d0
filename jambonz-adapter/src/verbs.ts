import type { SampleRate, TransferRequest } from 'voicebot/telephony';
import { VoicebotError } from 'voicebot/core';

/** One jambonz verb in the `{verb: "name", ...}` form. */
export type JambonzVerb = { verb: string } & Record<string, unknown>;

export interface ListenVerbOptions {
  /** ws:// or wss:// URL of this bot's audio endpoint */
  url: string;
  sampleRate: SampleRate;
  /** hook jambonz calls when the listen ends (URL in webhook mode, a hook name in WS API mode) */
  actionHook: string;
  /** per-call credentials jambonz presents on the audio socket upgrade */
  wsAuth: { username: string; password: string };
  /** merged into the first (metadata) frame; keep it small: the media server truncates at 8 KiB */
  metadata?: Record<string, string>;
}

/** Bidirectional streaming listen: caller audio to us, our audio back over the same socket. */
export function listenVerb(o: ListenVerbOptions): JambonzVerb {
  return {
    verb: 'listen',
    url: o.url,
    sampleRate: o.sampleRate,
    mixType: 'mono',
    passDtmf: true,
    bidirectionalAudio: { enabled: true, streaming: true, sampleRate: o.sampleRate },
    actionHook: o.actionHook,
    wsAuth: { username: o.wsAuth.username, password: o.wsAuth.password },
    ...(o.metadata ? { metadata: o.metadata } : {}),
  };
}

/** The transfer target has no jambonz form (an Asterisk dial string): fix the target in the dialog config. */
export class UnsupportedTargetError extends VoicebotError {
  constructor(message: string) {
    super(message, { kind: 'config' });
  }
}

/** jambonz `dial` target for a transfer target; Asterisk dial strings (`endpoint`) have no jambonz form. */
export function dialTarget(request: TransferRequest, trunk?: string): Record<string, unknown> {
  const { kind, address } = request.target;
  switch (kind) {
    case 'sip':
      return { type: 'sip', sipUri: address.startsWith('sip') ? address : `sip:${address}` };
    case 'user':
      return { type: 'user', name: address };
    case 'phone':
      return { type: 'phone', number: address, ...(trunk ? { trunk } : {}) };
    case 'endpoint':
      throw new UnsupportedTargetError(
        `transfer target kind "endpoint" (${address}) is an Asterisk dial string; use sip, user or phone with jambonz`,
      );
  }
}

/** Where the hand-off stream goes (agentStaysSilent): our audio endpoint, with this call's credentials. */
export interface HandOffListen {
  url: string;
  sampleRate: SampleRate;
  wsAuth: { username: string; password: string };
  metadata: Record<string, string>;
}

/**
 * The `listen` nested in a dial: once the agent answers, jambonz forks the bridged call to us in stereo, the caller
 * on the left channel and the agent on the right (the media bug sits on the caller's endpoint: what it reads, what
 * is written to it). One way only: bidirectional audio does not work nested in a dial, and the bot stays silent.
 */
export function handOffListen(o: HandOffListen): Record<string, unknown> {
  return {
    url: o.url,
    mixType: 'stereo',
    sampleRate: o.sampleRate,
    bidirectionalAudio: { enabled: false },
    wsAuth: { username: o.wsAuth.username, password: o.wsAuth.password },
    metadata: o.metadata,
  };
}

export interface DialVerbOptions {
  /** request.listen: fork the bridged call to us (see handOffListen) */
  listen?: HandOffListen;
  actionHook: string;
  /** called when the agent answers, before bridging: tells us the transfer was answered */
  confirmHook: string;
  trunk?: string;
  callerId?: string;
}

export function dialVerb(request: TransferRequest, o: DialVerbOptions): JambonzVerb {
  const target = { ...dialTarget(request, o.trunk), confirmHook: o.confirmHook };
  return {
    verb: 'dial',
    target: [target],
    headers: { ...request.headers },
    timeout: request.target.timeoutSec,
    answerOnBridge: true,
    actionHook: o.actionHook,
    ...(o.callerId ? { callerId: o.callerId } : {}),
    ...(request.listen && o.listen ? { listen: handOffListen(o.listen) } : {}),
  };
}

export function hangupVerb(): JambonzVerb {
  return { verb: 'hangup' };
}

/** Reject an unanswered call with a SIP final response (jambonz `sip:decline`); 503 tells the carrier to retry elsewhere. */
export function declineVerb(status: number, reason: string): JambonzVerb {
  return { verb: 'sip:decline', status, reason, headers: { 'Retry-After': '30' } };
}
