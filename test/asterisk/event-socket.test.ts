/**
 * The ARI event websocket as a real Asterisk runs it (FACTS §1b): it never pings, so a half-open connection is
 * only noticed by the app's own pings; a second registration of the app name takes every event
 * (ApplicationReplaced); credentials belong in the upgrade header; a wrong password is a 401, not an outage.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Readiness } from '../../src/core/readiness.js';
import { AriClient } from '../../src/telephony/asterisk/ari-client.js';
import { AriEventStream } from '../../src/telephony/asterisk/ari-events.js';
import type { AriEvent } from '../../src/telephony/asterisk/ari-types.js';
import { AriCredentialsError } from '../../src/telephony/asterisk/backend.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { startAriEmulator } from '../emulators/ari/index.js';
import { startTestBackend, useAsteriskRig, waitFor } from './helpers.js';

async function serveUntilHangup(leg: CallLeg): Promise<void> {
  await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
}

describe('ARI event websocket', () => {
  const rig = useAsteriskRig();

  /** An emulator and a backend that serves every call until hangup, its readiness and its legs at hand. */
  async function startServing(asterisk: Record<string, unknown> = {}) {
    rig.emu = await startAriEmulator();
    const readiness = new Readiness();
    const legs: CallLeg[] = [];
    rig.t = await startTestBackend(
      rig.emu,
      async (leg) => {
        legs.push(leg);
        await serveUntilHangup(leg);
      },
      { asterisk, deps: { readiness } },
    );
    return { readiness, legs };
  }

  it('authenticates the upgrade with a header: no credentials in the URL', async () => {
    rig.emu = await startAriEmulator();
    rig.t = await startTestBackend(rig.emu, serveUntilHangup);
    expect(rig.emu.upgrades).toHaveLength(1);
    expect(rig.emu.upgrades[0]!.authorizationHeader).toBe(true);
    expect(rig.emu.upgrades[0]!.url).not.toMatch(/api_key|asterisk-secret/);
  });

  it('says which app it registered, as the dialplan must name it (callers get 603 and the bot logs nothing otherwise)', async () => {
    rig.emu = await startAriEmulator();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const client = new AriClient({ ...rig.emu.ariConfig('support-line'), requestTimeoutMs: 2000 });
    const stream = new AriEventStream({ url: client.eventsUrl(), headers: client.authHeaders(), logger });
    try {
      await stream.start(AbortSignal.timeout(2000));
      expect(lines.find((l) => l.msg === 'ARI events connected')).toMatchObject({
        app: 'support-line',
        dialplan: 'Stasis(support-line)',
      });
    } finally {
      await stream.stop();
    }
  });

  it('a half-open socket (no events, no pongs) is noticed by a missed pong and replaced; calls are served again', async () => {
    const { readiness, legs } = await startServing({ eventPingMs: 100 });
    expect(readiness.snapshot().components.asterisk?.ready).toBe(true);
    rig.emu.deafenWebsockets();
    await waitFor(() => rig.emu.upgrades.length === 2, 3000, 'reconnect after a missed pong');
    await waitFor(() => rig.t!.backend.resyncs === 2, 3000, 'resync after the reconnect');
    expect(readiness.snapshot().components.asterisk?.ready).toBe(true);
    const caller = await rig.emu.placeCall();
    await waitFor(() => legs.length === 1, 3000, 'the new call is served');
    caller.hangup();
  });

  it('readiness follows the ARI connection: not ready while the socket is down, ready again after', async () => {
    rig.emu = await startAriEmulator();
    const readiness = new Readiness();
    rig.t = await startTestBackend(rig.emu, serveUntilHangup, { deps: { readiness } });
    expect(readiness.ready).toBe(true);
    rig.emu.dropWebsockets(400);
    await waitFor(() => !readiness.ready, 2000, 'not ready');
    expect(readiness.snapshot().components.asterisk?.reason).toMatch(/websocket/);
    await waitFor(() => readiness.ready, 3000, 'ready again');
    await rig.t.backend.stop();
    expect(readiness.snapshot().components.asterisk).toBeUndefined(); // stopped on purpose: not held back
  });

  it('ApplicationReplaced: the old process hands its calls over and stops serving; it never reconnects', async () => {
    const { readiness, legs } = await startServing();
    const caller = await rig.emu.placeCall();
    await waitFor(() => legs.length === 1, 3000, 'call up');
    // another connection registers the same app name
    const client = new AriClient({ ...rig.emu.ariConfig(), requestTimeoutMs: 2000 });
    const other = new AriEventStream({
      url: client.eventsUrl(),
      headers: client.authHeaders(),
      logger: pino({ level: 'silent' }),
    });
    const otherEvents: AriEvent[] = [];
    other.on('event', (e) => otherEvents.push(e));
    await other.start(AbortSignal.timeout(2000));
    try {
      await waitFor(() => rig.t!.backend.calls.size === 0, 2000, 'calls handed over');
      expect(readiness.snapshot().components.asterisk).toMatchObject({ ready: false });
      expect(readiness.snapshot().components.asterisk?.reason).toMatch(/ApplicationReplaced/);
      expect(caller.isEnded).toBe(false); // handed over, never cut
      expect(rig.t!.sessions.map.size).toBe(1); // the next owner finds it
      // new calls go to the new owner; the old process neither serves them nor reconnects
      await rig.emu.placeCall();
      await waitFor(() => otherEvents.some((e) => e.type === 'StasisStart'), 2000, 'StasisStart at the new owner');
      expect(legs).toHaveLength(1);
      expect(rig.emu.upgrades).toHaveLength(2);
    } finally {
      await other.stop();
    }
  });

  it('a wrong ARI password stops start-up at once with the keys to fix, instead of retrying forever', async () => {
    rig.emu = await startAriEmulator();
    const started = Date.now();
    const err = await startTestBackend(rig.emu, serveUntilHangup, {
      asterisk: { password: 'wrong' },
      deps: { startTimeoutMs: 10_000 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AriCredentialsError);
    expect((err as Error).message).toMatch(/401.*telephony\.asterisk\.username.*telephony\.asterisk\.password/);
    expect((err as Error).message).not.toContain('wrong');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
