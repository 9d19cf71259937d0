import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, type DeliveryContext } from '../../src/crm/sink.js';
import { HubspotSink } from '../../src/crm/sinks/hubspot.js';
import { ZendeskSink } from '../../src/crm/sinks/zendesk.js';

import { FakeClock } from '../helpers/fake-clock.js';
import { startHubspotEmulator, type HubspotEmulator } from '../emulators/hubspot/server.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { captureLogger, config, makeRecord } from './helpers.js';

/** Sinks read time from the injected clock (src/core/clock.ts), so their windows are tested without waiting. */
const ctxFor = (state = new Map<string, unknown>()): DeliveryContext => ({
  attempt: 1,
  signal: AbortSignal.timeout(5000),
  state: {
    get: async <T>(k: string) => state.get(k) as T | undefined,
    set: async (k, v) => void state.set(k, v),
  },
  logger: captureLogger().logger,
  anomaly: () => undefined,
});

let hs: HubspotEmulator | undefined;
let zd: ZendeskEmulator | undefined;
afterEach(async () => {
  await hs?.close();
  await zd?.close();
  hs = zd = undefined;
});

describe('sinks on the injected clock', () => {
  it('HubSpot: a number seen in the last 10 minutes is not searched again; after that it is', async () => {
    hs = await startHubspotEmulator();
    const clock = new FakeClock(() => 0, Date.parse('2026-12-01T10:00:00Z'));
    const sinkConfig = config({ crm: { sinks: [{ type: 'hubspot', baseUrl: hs.url, accessToken: hs.token }] } }).crm
      .sinks[0]!;
    const sink = new HubspotSink('hubspot', sinkConfig as never, clock);
    const searches = () => [...hs!.stats].filter(([k]) => k.includes('contacts.search')).reduce((n, [, v]) => n + v, 0);
    const call = (id: string) => sink.deliver(jobFor('hubspot', 'end', makeRecord({ callId: id })), ctxFor());

    await call('a');
    const afterFirst = searches();
    expect(afterFirst).toBeGreaterThan(0);
    clock.stall(9 * 60_000 + 59_000); // just inside the window
    await call('b');
    expect(searches()).toBe(afterFirst);
    clock.stall(2000); // past 10 minutes on the fake clock only: no real time passed
    await call('c');
    expect(searches()).toBeGreaterThan(afterFirst);
  });

  it('Zendesk: the first create attempt is stamped with the injected clock', async () => {
    zd = await startZendeskEmulator();
    const clock = new FakeClock(() => 0, Date.parse('2030-01-02T03:04:05Z'));
    const sinkConfig = config({
      crm: { sinks: [{ type: 'zendesk', baseUrl: zd.url, email: zd.email, apiToken: zd.token }] },
    }).crm.sinks[0]!;
    const sink = new ZendeskSink('zendesk', sinkConfig as never, clock);
    const state = new Map<string, unknown>();
    await sink.deliver(
      jobFor('zendesk', 'end', makeRecord({ escalation: undefined, outcome: 'resolved' })),
      ctxFor(state),
    );
    expect(state.get('createTriedAt')).toBe(Date.parse('2030-01-02T03:04:05Z'));
    expect(zd.tickets.size).toBe(1);
  });
});
