import type { Logger } from '../../log/logger.js';
import { headerSafe } from '../headers.js';
import type { TelephonyBackend, TransferTarget } from '../port.js';

/** What places outbound calls: any backend that implements `originate`. */
export type OutboundDialer = Required<Pick<TelephonyBackend, 'originate'>>;

export interface OutboundCallRequest {
  /** an E.164 number, a dial string (PJSIP/100), a SIP URI, or a user name */
  to: string;
  callerId?: string;
  ticketId?: string;
  /** ring time, seconds */
  timeoutSec?: number;
  signal?: AbortSignal;
}

/** Classify what the user typed: PJSIP/… → endpoint, sip: → sip, digits → phone, otherwise a user. */
export function parseTarget(to: string, timeoutSec: number): TransferTarget {
  const address = to.trim();
  if (/^[A-Za-z]+\/.+/.test(address)) return { kind: 'endpoint', address, timeoutSec };
  if (/^sips?:/i.test(address)) return { kind: 'sip', address, timeoutSec };
  if (/^\+?[0-9][0-9 ()-]{2,20}$/.test(address))
    return { kind: 'phone', address: address.replace(/[ ()-]/g, ''), timeoutSec };
  if (/^[A-Za-z0-9_.-]+$/.test(address)) return { kind: 'user', address, timeoutSec };
  throw new Error(`cannot call "${to}": give a number, a dial string (PJSIP/100), a sip: URI or a user name`);
}

/** Places calls on which the bot runs: `voicebot call`, POST /api/calls, CRM-triggered callbacks. */
export class OutboundService {
  readonly #dialer: OutboundDialer;
  readonly #opts: { logger: Logger; ringSec: number };

  constructor(dialer: OutboundDialer, opts: { logger: Logger; ringSec: number }) {
    this.#dialer = dialer;
    this.#opts = opts;
  }

  /** Resolves with the call id once the callee answered (rejects with the backend's error otherwise). */
  async placeCall(req: OutboundCallRequest): Promise<string> {
    const target = parseTarget(req.to, req.timeoutSec ?? this.#opts.ringSec);
    const headers: Record<string, string> = {};
    if (req.ticketId) headers['X-Voicebot-Ticket-Id'] = headerSafe(req.ticketId);
    this.#opts.logger.info({ kind: target.kind, ticketId: req.ticketId }, 'outbound call');
    return this.#dialer.originate(target, {
      headers,
      ...(req.callerId ? { callerId: req.callerId } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    });
  }

  /** A CRM callback: call the customer back about a ticket and run the bot on the call. */
  requestCallback(req: { phone: string; ticketId?: string; signal?: AbortSignal }): Promise<string> {
    return this.placeCall({
      to: req.phone,
      ...(req.ticketId ? { ticketId: req.ticketId } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    });
  }
}
