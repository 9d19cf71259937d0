/**
 * A bot process dies (kill -9) mid-call; Asterisk reopens the call's per-call websocket (FACTS §1c) through the load
 * balancer to another instance, which claims the call once the dead one's lease runs out, builds a media leg of its
 * own in the caller's bridge, hangs up the dead one's, and resumes the dialog from the session store.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/core/call-record.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, MemoryRecordSink, ToneTts, type TestDeps } from '../../src/dialog/scripted.js';
import { MemoryLeaseStore, type LeaseStore } from '../../src/session/lease.js';
import { createAsteriskBackend, type AsteriskBackend } from '../../src/telephony/asterisk/backend.js';
import { startAriEmulator, type AriEmulator, type Party } from '../emulators/ari/index.js';
import { KillSwitch } from '../helpers/kill-switch.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { asteriskTestConfig, MemorySessions, tone, waitFor } from './helpers.js';
import { pino } from 'pino';

const GREETING = 'Hello, how can I help?';
const RESUME = 'Sorry, where were we?';
const LEASE_MS = 600;
const intents = [
  { name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Order cancelled.'] },
];

interface Shared {
  sessions: MemorySessions;
  leases: LeaseStore;
  records: MemoryRecordSink;
}

/** One bot instance in this process: web server, Asterisk backend (outbound websockets), call core. */
interface Instance {
  id: string;
  backend: AsteriskBackend;
  web: FastifyInstance;
  deps: TestDeps;
  port: number;
  /** what runCall returned for each call this instance served */
  finished: CallRecord[];
  /** kill -9: its sockets drop at once, its stores and CRM see nothing more from it, nothing is cleaned up */
  kill(): void;
}

let emu: AriEmulator;
let proxy: RoundRobinProxy | undefined;
const instances: Instance[] = [];

afterEach(async () => {
  for (const i of instances.splice(0)) {
    if (!i.deps.config) continue;
    await i.backend.stop().catch(() => undefined);
    await i.web.close();
  }
  await proxy?.close();
  proxy = undefined;
  await emu?.close();
});

async function startInstance(id: string, shared: Shared, asrScript: string[]): Promise<Instance> {
  const life = new KillSwitch();
  const sessions = life.wrap(shared.sessions);
  const leases = life.wrap(shared.leases);
  const deps = createTestDeps({
    asrScript,
    records: life.wrap(shared.records),
    sessions,
    tts: new ToneTts({ msPerChar: 10 }),
    config: { dialog: { greeting: GREETING, intents, resumePrompt: RESUME }, session: { leaseMs: LEASE_MS } },
  });
  deps.instanceId = id;
  deps.leases = leases;
  const config = asteriskTestConfig(
    emu,
    { connection: 'outbound', url: undefined, eventPingMs: 1000 },
    { session: { leaseMs: LEASE_MS } },
  );
  const web = Fastify();
  await web.register(websocket);
  const backend = createAsteriskBackend(config, {
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    metrics: deps.metrics,
    sessions,
    events: deps.events,
    web,
    leases,
    instanceId: id,
  });
  const url = await web.listen({ host: '127.0.0.1', port: 0 });
  const finished: CallRecord[] = [];
  await backend.start(async (leg) => void finished.push(await runCall(leg, deps)));
  const instance: Instance = {
    id,
    backend,
    web,
    deps,
    port: Number(new URL(url).port),
    finished,
    kill: () => {
      life.kill();
      web.server.close(); // nothing listens on its port any more
      for (const ws of web.websocketServer.clients) ws.terminate(); // the kernel drops its connections
    },
  };
  instances.push(instance);
  return instance;
}

/** websocket_client.conf per_call_config, uri = the load balancer in front of the instances. */
async function perCallThroughProxy(targets: Instance[]): Promise<void> {
  proxy = await startRoundRobinProxy(targets.map((t) => t.port));
  await emu.outboundWebsocket({
    uri: `ws://127.0.0.1:${proxy.port}/ari`,
    username: emu.username,
    password: emu.password,
    connectionType: 'per_call_config',
    reconnectIntervalMs: 100,
    reconnectAttempts: 4,
    perCallCloseMs: 300,
  });
}

const spoken = (i: Instance) => (i.deps.tts as ToneTts).spoken;
const listening = (i: Instance) => i.deps.published.filter((e) => e.type === 'state' && e.to === 'listening').length;
const stored = (sessions: MemorySessions, caller: Party) =>
  sessions.map.get(`asterisk:${caller.channelId}`)?.backendData as { mediaChannelId: string; bridgeId: string };

/** When the caller first heard bot audio after `since` (performance.now() clock), or null. */
function firstHeardAfter(caller: Party, since: number): number | null {
  const frame = caller.received.find((c) => c.at > since && c.pcm.some((s) => Math.abs(s) > 500));
  return frame ? frame.at : null;
}

/** The caller has heard nothing for `ms` (the bot's last prompt has fully arrived). */
function quietFor(caller: Party, ms: number): boolean {
  const last = caller.received.findLast((c) => c.pcm.some((s) => Math.abs(s) > 500));
  return !last || performance.now() - last.at > ms;
}

/** The caller says something (a tone the scripted ASR turns into its next line) and pauses. */
async function say(caller: Party): Promise<void> {
  await caller.sendPcm(tone(600), { speed: 2 });
  await caller.sendSilence(800, { speed: 2 });
}

describe('crash takeover on Asterisk per-call outbound websockets', () => {
  it('kill -9 mid-call: another instance claims it after the lease runs out and the caller hears it again', async () => {
    emu = await startAriEmulator();
    const shared = { sessions: new MemorySessions(), leases: new MemoryLeaseStore(), records: new MemoryRecordSink() };
    const a = await startInstance('bot-a', shared, ['a question about my bill']);
    const b = await startInstance('bot-b', shared, ['please cancel it']);
    await perCallThroughProxy([a, b]);

    const caller = await emu.placeCall();
    await waitFor(() => listening(a) === 1, 5000, 'greeting said');
    await say(caller);
    await waitFor(() => listening(a) === 2, 5000, 'first answer said');
    expect(spoken(a)).toEqual([GREETING, 'Billing answer.']);
    const before = stored(shared.sessions, caller);
    expect(await shared.leases.holder(caller.channelId)).toBe('bot-a');

    await waitFor(() => quietFor(caller, 200), 3000, 'the answer has reached the caller');
    const killedAt = performance.now();
    a.kill();
    await waitFor(() => spoken(b).length === 1, 5000, 'resume prompt at the second instance');
    await waitFor(() => firstHeardAfter(caller, killedAt) !== null, 5000, 'the caller hears the bot again');
    const gapMs = firstHeardAfter(caller, killedAt)! - killedAt;
    // the claim waited for the dead instance's lease to run out (renewed every third of it) …
    expect(gapMs).toBeGreaterThan(LEASE_MS / 2);
    // … and not much longer: reconnect, claim, media leg, resume prompt
    expect(gapMs).toBeLessThan(LEASE_MS + 1500);
    expect(spoken(b)).toEqual([RESUME]);
    expect(emu.outboundConnections.map((c) => c.reconnect)).toEqual([false, true]);
    expect(shared.sessions.map.get(caller.channelId)?.owner).toBe('bot-b');
    expect(await shared.leases.holder(caller.channelId)).toBe('bot-b');

    // the dead instance's media leg is gone; ours is the one in the caller's bridge
    const after = stored(shared.sessions, caller);
    expect(after.bridgeId).toBe(before.bridgeId);
    expect(after.mediaChannelId).not.toBe(before.mediaChannelId);
    expect(emu.channels.has(before.mediaChannelId)).toBe(false);
    expect([...emu.bridges.get(before.bridgeId)!.channels].sort()).toEqual(
      [caller.channelId, after.mediaChannelId].sort(),
    );

    await waitFor(() => listening(b) === 1, 5000, 'resume prompt said');
    await say(caller);
    await waitFor(() => spoken(b).includes('Order cancelled.'), 5000, 'second answer');
    caller.hangup();
    await waitFor(() => b.finished.length === 1, 5000, 'end record');
    expect(shared.records.of('end')).toHaveLength(1);
    expect(shared.records.submitted).toHaveLength(1); // nothing from the dead instance
    expect(shared.records.of('end')[0]!.transcript.map((e) => e.text)).toEqual([
      GREETING,
      'a question about my bill',
      'Billing answer.',
      RESUME,
      'please cancel it',
      'Order cancelled.',
    ]);
    await waitFor(
      () => b.backend.calls.size === 0 && emu.channels.size === 0 && emu.bridges.size === 0,
      3000,
      'release',
    );
    expect(b.backend.ports.inUse).toBe(0);
    expect(b.backend.host.router.size).toBe(0);
    expect(shared.sessions.map.size).toBe(0);
    expect(await shared.leases.holder(caller.channelId)).toBeNull();
  });
});
