import { awaitsEndAfterHandOff } from '../dialog/dialog-state.js';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Admission } from '../core/admission.js';
import type { CallEventBus } from '../core/call-events.js';
import type { Readiness } from '../core/readiness.js';
import type { CallRecordSink } from '../core/call-record.js';
import type { Logger } from '../log/logger.js';
import type { LeaseStore } from '../session/lease.js';
import type { SessionStore } from '../session/store.js';
import type { Tts } from '../speech/types.js';
import { createAsteriskBackend } from './asterisk/backend.js';
import { registerTestCall } from './browser/backend.js';
import { createJambonzBackend, registerJambonz, type CallRegistry } from '../../jambonz-adapter/src/index.js';
import type { TelephonyBackend } from './port.js';
import type { OutboundDialer } from './outbound/service.js';

export interface BackendDeps {
  config: Config;
  web: FastifyInstance;
  logger: Logger;
  metrics: Registry;
  events: CallEventBus;
  sessions: SessionStore;
  tts: Tts;
  /** the concurrent-call cap every backend enforces */
  admission: Admission;
  /** where a backend reports its link to the telephony server (/readyz) */
  readiness?: Readiness;
  /** where records of calls a backend could not serve go (the CRM) */
  records?: CallRecordSink;
  /**
   * per-call ownership leases (session.store: redis): a backend that takes calls over claims them here (Asterisk),
   * or waits for them to be free (jambonz)
   */
  leases?: LeaseStore;
}

export interface SelectedBackend {
  backend: TelephonyBackend;
  /** set when the backend can place outbound calls */
  dialer: OutboundDialer | null;
  ringSec: number;
}

/**
 * Build the configured telephony backend and mount its routes on the web server (before it listens).
 * With no backend configured, the browser test-call page is the backend.
 */
export async function createBackend(deps: BackendDeps): Promise<SelectedBackend> {
  const { config, web, logger, metrics, events, sessions, tts, admission, readiness, records, leases } = deps;
  const { telephony } = config;
  if (telephony.backend === 'asterisk' && telephony.asterisk) {
    const backend = createAsteriskBackend(config, {
      logger,
      metrics,
      sessions,
      events,
      tts,
      admission,
      web,
      ...(readiness ? { readiness } : {}),
      ...(records ? { records } : {}),
      ...(leases ? { leases } : {}),
    });
    return { backend, dialer: backend, ringSec: telephony.asterisk.outboundRingSec };
  }
  if (telephony.backend === 'jambonz' && telephony.jambonz) {
    // URLs in verbs come from configuration only (the schema requires one of the two)
    const publicUrl = telephony.jambonz.publicUrl ?? config.web.publicUrl;
    const jambonzConfig = { ...telephony.jambonz, ...(publicUrl ? { publicUrl } : {}) };
    const takeover = leases
      ? // a dead holder's lease runs out within leaseMs; a live one that lost its WS API socket lets go after the grace
        callRegistry(sessions, leases, Math.max(config.session.leaseMs, telephony.jambonz.reconnectGraceMs) + 1000)
      : undefined;
    const backend = createJambonzBackend(jambonzConfig, {
      logger,
      metrics,
      admission,
      ...(takeover ? { registry: takeover } : {}),
    });
    await registerJambonz(web, { backend });
    return { backend, dialer: backend, ringSec: 30 };
  }
  // the test page cannot dial anyone; with agentStaysSilent it plays the agent itself (a hand-off is "answered")
  const backend = await registerTestCall(web, {
    logger,
    metrics,
    events,
    admission,
    ...(telephony.agentStaysSilent ? { transferOutcome: 'answered' as const } : {}),
  });
  return { backend, dialer: null, ringSec: 30 };
}

/** The session store and the leases as a backend sees them when it takes over a call another instance served. */
export function callRegistry(sessions: SessionStore, leases: LeaseStore, waitMs: number): CallRegistry {
  return {
    waitMs,
    async lookup(callSid) {
      const stored = await sessions.get(callSid);
      // a call handed to a person whose bot listened on is `ended` for the dialog, not over: its record is owed
      const handedOff = awaitsEndAfterHandOff(stored);
      if (!stored || (stored.state === 'ended' && !handedOff)) return null;
      return {
        held: (await leases.holder(callSid)) !== null,
        ...(handedOff ? { handedOff } : {}),
        // what the call's owner stored about itself; none while no process serves the call (detached, not yet claimed)
        ...(stored.owner ? { servedBy: stored.backendData } : {}),
      };
    },
  };
}
