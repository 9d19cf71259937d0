import type { CallEvent, CallEventBus } from '../core/call-events.js';
import type { Secret } from '../config/secret.js';
import type { Logger } from '../log/logger.js';
import { requestJson } from './http.js';
import { signBody, SIGNATURE_HEADER } from './signature.js';

export interface ScreenPopOptions {
  url: string;
  secret: Secret;
  timeoutMs?: number;
  /** link an agent can open (the agent console) */
  consoleUrl?: string;
}

/** What a third-party agent desktop receives when a call is escalated (and again when its ticket exists). */
export interface ScreenPop {
  type: 'screen-pop' | 'screen-pop-update';
  callId: string;
  phone: string;
  target: string;
  address: string;
  reason: string;
  intent: string | null;
  confidence: number | null;
  summary: string;
  transcript: Array<{ speaker: string; text: string; atMs: number }>;
  ticket?: { id: string; url?: string; sink: string };
  consoleUrl?: string;
}

/**
 * Live-only: a screen pop is useless once the call is over, so it gets two quick tries, not the outbox.
 * Returns a stop function that unsubscribes and waits for posts in flight.
 */
export function startScreenPopWebhook(
  events: CallEventBus,
  opts: ScreenPopOptions,
  logger: Logger,
): () => Promise<void> {
  const popped = new Map<string, ScreenPop>();
  const inFlight = new Set<Promise<void>>();
  const closing = new AbortController();

  const post = (pop: ScreenPop) => {
    const p = send(pop).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const send = async (pop: ScreenPop) => {
    const body = JSON.stringify(pop);
    for (let attempt = 1; attempt <= 2 && !closing.signal.aborted; attempt++) {
      try {
        await requestJson({
          method: 'POST',
          url: opts.url,
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(opts.secret.reveal(), body) },
          body: Buffer.from(body),
          timeoutMs: opts.timeoutMs ?? 3000,
          signal: closing.signal,
          response: 'ignore',
        });
        logger.info({ callId: pop.callId, type: pop.type }, 'screen pop sent');
        return;
      } catch (err) {
        logger.warn({ callId: pop.callId, attempt, error: (err as Error).message }, 'screen pop webhook failed');
      }
    }
  };

  const onEvent = (e: CallEvent) => {
    if (e.type === 'escalation') {
      const r = e.record;
      const pop: ScreenPop = {
        type: 'screen-pop',
        callId: e.callId,
        phone: r.phone,
        target: e.target,
        address: e.address,
        reason: e.reason,
        intent: r.intent,
        confidence: r.nluConfidence,
        summary: r.summary,
        transcript: r.transcript.map((t) => ({ speaker: t.speaker, text: t.text, atMs: t.atMs })),
        ...(opts.consoleUrl ? { consoleUrl: opts.consoleUrl } : {}),
      };
      popped.set(e.callId, pop);
      post(pop);
    } else if (e.type === 'ticket') {
      const pop = popped.get(e.callId);
      if (!pop) return;
      pop.ticket = { id: e.ticketId, sink: e.sink, ...(e.url ? { url: e.url } : {}) };
      post({ ...pop, type: 'screen-pop-update' });
    } else if (e.type === 'call-ended') {
      popped.delete(e.callId);
    }
  };
  const unsubscribe = events.subscribe(onEvent);
  return async () => {
    unsubscribe();
    closing.abort();
    await Promise.allSettled([...inFlight]);
  };
}
