/**
 * A bot process dies (kill -9) mid-call; Asterisk reopens the call's per-call websocket (FACTS §1c) through the load
 * balancer to another instance, which claims the call once the dead one's lease runs out, builds a media leg of its
 * own in the caller's bridge, hangs up the dead one's, and resumes the dialog from the session store. Also: two
 * instances claiming one call at once (one wins), and an instance that lost its socket but lives (it lets go).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/core/call-record.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, MemoryRecordSink, ToneTts, type TestDeps } from '../../src/dialog/scripted.js';
import { MemoryLeaseStore, RedisLeaseStore, type LeaseStore } from '../../src/session/lease.js';
import { RedisSessionStore } from '../../src/session/redis-store.js';
import type { SessionStore } from '../../src/session/store.js';
import { readWav } from '../../src/media/wav.js';
import { createAsteriskBackend, type AsteriskBackend } from '../../src/telephony/asterisk/backend.js';
import { startAriEmulator, type AriEmulator, type Party } from '../emulators/ari/index.js';
import { KillSwitch } from '../helpers/kill-switch.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { asteriskTestConfig, MemorySessions, tone, waitFor } from './helpers.js';

const GREETING = 'Hello, how can I help?';
const RESUME = 'Sorry, where were we?';
const LEASE_MS = 600;
const PING_MS = 500;
const intents = [
  { name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Order cancelled.'] },
  { name: 'thanks', keywords: ['thanks'], responses: ['You are welcome.'], hangup: true },
  { name: 'person', keywords: ['person'], escalate: true },
];
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });

/** The stores the instances share: each instance gets its own client (Redis) or the one map (memory). */
interface Stores {
  sessions(): SessionStore;
  leases(): LeaseStore;
  /** a client of the test's own, to look at what the instances wrote */
  observe: SessionStore;
  leaseHolder(callId: string): Promise<string | null>;
  records: MemoryRecordSink;
  close(): Promise<void>;
}

function memoryStores(): Stores {
  const sessions = new MemorySessions();
  const leases = new MemoryLeaseStore();
  return {
    sessions: () => sessions,
    leases: () => leases,
    observe: sessions,
    leaseHolder: (id) => leases.holder(id),
    records: new MemoryRecordSink(),
    close: () => Promise.resolve(),
  };
}

let keyspace = 0;
function redisStores(url: string): Stores {
  const keyPrefix = `ct${keyspace++}:`;
  const clients: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(c: T): T => (clients.push(c), c);
  const sessions = () => track(new RedisSessionStore({ url, keyPrefix, ttlSeconds: 60, logger: silent }));
  const leases = () => track(new RedisLeaseStore({ url, keyPrefix }));
  const watcher = leases();
  return {
    sessions,
    leases,
    observe: sessions(),
    leaseHolder: (id) => watcher.holder(id),
    records: new MemoryRecordSink(),
    close: async () => void (await Promise.all(clients.map((c) => c.close()))),
  };
}

/** One bot instance in this process: web server, Asterisk backend, call core. */
interface Instance {
  id: string;
  backend: AsteriskBackend;
  web: FastifyInstance;
  deps: TestDeps;
  port: number;
  /** what runCall returned for each call this instance served, and when */
  finished: Array<{ record: CallRecord; at: number }>;
  /** kill -9: its sockets drop at once, stores and CRM see nothing more from it, nothing is cleaned up */
  kill(): void;
}

let emu: AriEmulator;
let proxy: RoundRobinProxy | undefined;
let stores: Stores | undefined;
let redisUrl = '';
const instances: Instance[] = [];

afterEach(async () => {
  for (const i of instances.splice(0)) {
    await i.backend.stop().catch(() => undefined);
    await i.web.close();
  }
  await proxy?.close();
  proxy = undefined;
  await emu?.close();
  await stores?.close();
  stores = undefined;
});

async function startInstance(
  id: string,
  asrScript: string[],
  connection: { outbound: true } | { app: string } = { outbound: true },
  /** telephony.asterisk settings; `config`: more of the call core's config (layered over the test's) */
  extra: { asterisk?: Record<string, unknown>; config?: Record<string, unknown> } = {},
): Promise<Instance> {
  const life = new KillSwitch();
  const sessions = life.wrap(stores!.sessions());
  const leases = life.wrap(stores!.leases());
  const deps = createTestDeps({
    asrScript,
    records: life.wrap(stores!.records),
    sessions,
    tts: new ToneTts({ msPerChar: 10 }),
    config: {
      dialog: { greeting: GREETING, intents, resumePrompt: RESUME },
      session: { leaseMs: LEASE_MS },
      ...extra.config,
    },
  });
  deps.instanceId = id;
  deps.leases = leases;
  const config = asteriskTestConfig(
    emu,
    {
      ...('app' in connection
        ? { app: connection.app, eventPingMs: PING_MS }
        : { connection: 'outbound', url: undefined, eventPingMs: PING_MS }),
      ...extra.asterisk,
    },
    { session: { leaseMs: LEASE_MS } },
  );
  const web = Fastify();
  await web.register(websocket);
  const backend = createAsteriskBackend(config, {
    logger: silent,
    metrics: deps.metrics,
    sessions,
    events: deps.events,
    web,
    leases,
    instanceId: id,
  });
  const url = await web.listen({ host: '127.0.0.1', port: 0 });
  const finished: Instance['finished'] = [];
  await backend.start(async (leg) => void finished.push({ record: await runCall(leg, deps), at: performance.now() }));
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
async function perCallThroughProxy(targets: Instance[], reconnectIntervalMs = 100): Promise<void> {
  proxy = await startRoundRobinProxy(targets.map((t) => t.port));
  await emu.outboundWebsocket({
    uri: `ws://127.0.0.1:${proxy.port}/ari`,
    username: emu.username,
    password: emu.password,
    connectionType: 'per_call_config',
    reconnectIntervalMs,
    reconnectAttempts: 4,
    perCallCloseMs: 3000, // STASIS_END_POST_WAIT, as Asterisk
  });
}

const spoken = (i: Instance) => (i.deps.tts as ToneTts).spoken;
const listening = (i: Instance) => i.deps.published.filter((e) => e.type === 'state' && e.to === 'listening').length;
const where = async (caller: Party) =>
  (await stores!.observe.get(`asterisk:${caller.channelId}`))?.backendData as {
    mediaChannelId: string;
    bridgeId: string;
    recording?: string | null;
  };
const audible = (pcm: Int16Array) => pcm.some((s) => Math.abs(s) > 500);

/** When the caller first heard bot audio after `since` (performance.now() clock), or null. */
function firstHeardAfter(caller: Party, since: number): number | null {
  return caller.received.find((c) => c.at > since && audible(c.pcm))?.at ?? null;
}

/** The caller has heard nothing for `ms` (the bot's last prompt has fully arrived). */
function quietFor(caller: Party, ms: number): boolean {
  const last = caller.received.findLast((c) => audible(c.pcm));
  return !last || performance.now() - last.at > ms;
}

/** The caller says something (a tone the scripted ASR turns into its next line) and pauses. */
async function say(caller: Party): Promise<void> {
  await caller.sendPcm(tone(600), { speed: 2 });
  await caller.sendSilence(800, { speed: 2 });
}

/** A call on `a` up to its first answer; returns the caller and where its media was. */
async function callServedBy(a: Instance) {
  const caller = await emu.placeCall();
  await waitFor(() => listening(a) === 1, 5000, 'greeting said');
  await say(caller);
  await waitFor(() => listening(a) === 2, 5000, 'first answer said');
  expect(spoken(a)).toEqual([GREETING, 'Billing answer.']);
  await waitFor(() => quietFor(caller, 200), 3000, 'the answer has reached the caller');
  expect(await stores!.leaseHolder(caller.channelId)).toBe(a.id);
  return { caller, before: await where(caller) };
}

/** a and b behind the balancer (in `order`), a call on a up to its first answer. */
async function pairWithCall(
  kind: 'memory' | 'redis' = 'memory',
  opts: {
    bScript?: string[];
    order?: (a: Instance, b: Instance) => Instance[];
    reconnectIntervalMs?: number;
    /** telephony.asterisk settings of both instances */
    asterisk?: (emu: AriEmulator) => Record<string, unknown>;
  } = {},
) {
  emu = await startAriEmulator();
  stores = kind === 'memory' ? memoryStores() : redisStores(redisUrl);
  const extra = { asterisk: opts.asterisk?.(emu) };
  const a = await startInstance('bot-a', ['a question about my bill'], { outbound: true }, extra);
  const b = await startInstance('bot-b', opts.bScript ?? ['please cancel it'], { outbound: true }, extra);
  await perCallThroughProxy(opts.order?.(a, b) ?? [a, b], opts.reconnectIntervalMs);
  return { a, b, ...(await callServedBy(a)) };
}

/** `b` serves the rest of the call: one more turn, the caller hangs up; one end record, a transcript without gaps. */
async function finishOn(b: Instance, caller: Party): Promise<void> {
  await waitFor(() => listening(b) === 1, 5000, 'resume prompt said');
  await say(caller);
  await waitFor(() => spoken(b).includes('Order cancelled.'), 5000, 'second answer');
  caller.hangup();
  await waitFor(() => b.finished.length === 1, 5000, 'end record');
  const records = stores!.records;
  expect(records.of('end')).toHaveLength(1);
  expect(records.submitted).toHaveLength(1); // nothing from the first instance
  expect(records.of('end')[0]!.transcript.map((e) => e.text)).toEqual([
    GREETING,
    'a question about my bill',
    'Billing answer.',
    RESUME,
    'please cancel it',
    'Order cancelled.',
  ]);
  await waitFor(() => b.backend.calls.size === 0 && emu.channels.size === 0 && emu.bridges.size === 0, 3000, 'release');
  expect(b.backend.ports.inUse).toBe(0);
  expect(b.backend.host.router.size).toBe(0);
  expect(await stores!.observe.list()).toEqual([]);
  expect(await stores!.leaseHolder(caller.channelId)).toBeNull();
}

/** The caller left before `b` could serve the call: one end record with the stored story, nothing left anywhere. */
async function expectRecordedAfterHangup(b: Instance, caller: Party, before: { mediaChannelId: string }) {
  expect(stores!.records.submitted).toHaveLength(1);
  expect(stores!.records.of('end')[0]!.transcript.map((e) => e.text)).toEqual([
    GREETING,
    'a question about my bill',
    'Billing answer.',
  ]);
  await waitFor(() => emu.channels.size === 0 && emu.bridges.size === 0, 3000, 'release');
  expect(emu.channels.has(before.mediaChannelId)).toBe(false);
  expect(b.backend.calls.size + b.backend.ports.inUse + b.backend.host.router.size).toBe(0);
  expect(await stores!.observe.list()).toEqual([]);
  expect(await stores!.leaseHolder(caller.channelId)).toBeNull();
}

/** The media leg `before` is gone, `b`'s is the one in the caller's bridge, and the store names `b`. */
async function expectSwapped(b: Instance, caller: Party, before: { mediaChannelId: string; bridgeId: string }) {
  const after = await where(caller);
  expect(after.bridgeId).toBe(before.bridgeId);
  expect(after.mediaChannelId).not.toBe(before.mediaChannelId);
  expect(emu.channels.has(before.mediaChannelId)).toBe(false);
  expect([...emu.bridges.get(before.bridgeId)!.channels].sort()).toEqual(
    [caller.channelId, after.mediaChannelId].sort(),
  );
  expect((await stores!.observe.get(caller.channelId))?.owner).toBe(b.id);
  expect(await stores!.leaseHolder(caller.channelId)).toBe(b.id);
}

/**
 * The caller hangs up the moment Asterisk answers the taker's look at the caller channel (GET /channels/{caller},
 * after `armed()`): the answer says the caller is up, and the hang-up events reach the taker before it routes them.
 */
function hangUpWhenTheTakerLooks(caller: Party, armed: () => boolean): void {
  const path = `/ari/channels/${encodeURIComponent(caller.channelId)}`;
  emu.on('request', (r) => {
    if (armed() && r.method === 'GET' && r.path === path && !caller.isEnded) caller.hangup();
  });
}

/** After the call: nothing left on Asterisk, in the store, or in any live instance (ports, routes, calls). */
async function expectNothingLeft(live: Instance[], caller: Party): Promise<void> {
  await waitFor(
    () => emu.channels.size === 0 && emu.bridges.size === 0 && live.every((i) => i.backend.calls.size === 0),
    5000,
    'release',
  );
  expect(emu.mediaEndpoints.filter((m) => !m.closed)).toEqual([]);
  for (const i of live) expect([i.id, i.backend.ports.inUse, i.backend.host.router.size]).toEqual([i.id, 0, 0]);
  expect(await stores!.observe.list()).toEqual([]);
  expect(await stores!.leaseHolder(caller.channelId)).toBeNull();
}

/** The one end record: what the dead process had stored, then nothing (nobody served the caller again). */
function expectOneRecord(transcript: string[]): void {
  expect(stores!.records.submitted).toHaveLength(1);
  expect(stores!.records.of('end')[0]!.transcript.map((e) => e.text)).toEqual(transcript);
}

describe('crash takeover on Asterisk per-call outbound websockets', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    redisUrl = redis.url;
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it.each(['memory', 'redis'] as const)(
    '%s: kill -9 mid-call; another instance claims it once the lease runs out; the caller hears it again',
    async (kind) => {
      const { a, b, caller, before } = await pairWithCall(kind);

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
      await expectSwapped(b, caller, before);
      await finishOn(b, caller);
    },
  );

  it('kill -9 while the bridge is recorded: the next instance stops the recording at the end; the record carries it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vb-ct-rec-'));
    const recording = { enabled: true, announce: false, maxSeconds: 60, dir };
    // the file comes over ARI's HTTP side: a websocket cannot carry it (Asterisk answers 406)
    const { a, b, caller } = await pairWithCall('memory', { asterisk: (emu) => ({ recording, url: emu.url }) });
    expect(emu.requestsTo('POST', /\/record$/)).toHaveLength(1);
    const name = (await where(caller)).recording;
    expect(name).toBe(`voicebot-${caller.channelId.replace(/[^A-Za-z0-9_-]/g, '_')}`);

    a.kill();
    await finishOn(b, caller); // one end record, nothing left on Asterisk (the bridge is gone)
    // the recording the dead instance started went on; b stopped it by name and fetched it
    expect(emu.requestsTo('POST', /\/record$/)).toHaveLength(1);
    expect(emu.requestsTo('POST', /\/recordings\/live\/[^/]+\/stop$/).map((r) => r.path)).toEqual([
      `/ari/recordings/live/${encodeURIComponent(name!)}/stop`,
    ]);
    const path = join(dir, `${name}.wav`);
    expect(stores!.records.of('end')[0]!.recording).toEqual({ path, format: 'wav' });
    // both caller turns are in it, the one before the crash and the one after: a 600 ms tone at 8000 is over
    // half its amplitude for 2/3 of its samples (3,200), so more than one turn's worth means both
    const wav = readWav(readFileSync(path));
    expect(wav.samples.filter((s) => Math.abs(s) > 4000).length).toBeGreaterThan(1.8 * 3200);
    expect(emu.stored.size).toBe(0); // fetched, then deleted on Asterisk
    expect(b.backend.host.router.size).toBe(0);
  });

  /** a and b behind the balancer, a call on a handed to a person (the emulator's agent answers); returns the agent */
  async function handedOffCall(agentStaysSilent: boolean) {
    emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'answer', ringMs: 20 } } });
    const agents: Party[] = [];
    emu.on('party', (p) => agents.push(p));
    stores = memoryStores();
    const extra = { config: { telephony: { agentStaysSilent } } };
    const a = await startInstance('bot-a', ['a question about my bill', 'a person please'], { outbound: true }, extra);
    const b = await startInstance('bot-b', ['the agent here'], { outbound: true }, extra);
    await perCallThroughProxy([a, b]);
    const { caller } = await callServedBy(a);
    await say(caller);
    await waitFor(() => agents.length === 1 && stores!.records.of('escalation').length === 1, 5000, 'escalated');
    const handedOff = (e: (typeof a.deps.published)[number]) => e.type === 'state' && e.cause === 'answered by agent';
    await waitFor(() => a.deps.published.some(handedOff), 5000, 'the agent answered');
    const transferMessage = a.deps.config.dialog.transferMessage;
    expect(spoken(a)).toEqual([GREETING, 'Billing answer.', transferMessage]);
    const stored = (await where(caller)) as unknown as { agentChannelId: string; tapChannels: string[] };
    expect(stored.agentChannelId).toBe(agents[0]!.channelId);
    return { a, b, caller, agent: agents[0]!, transferMessage, taps: stored.tapChannels };
  }

  /** The call is over: nothing left on Asterisk, in b, in the store or the lease. */
  async function expectAllReleased(b: Instance, caller: Party, agent: Party) {
    await agent.ended;
    await waitFor(() => emu.channels.size === 0 && emu.bridges.size === 0, 3000, 'nothing left on Asterisk');
    await waitFor(() => b.backend.calls.size === 0, 3000, 'b let go of the call');
    expect(b.backend.ports.inUse + b.backend.host.router.size).toBe(0);
    expect(await stores!.observe.list()).toEqual([]);
    expect(await stores!.leaseHolder(caller.channelId)).toBeNull();
  }

  it('kill -9 while the bot listens to a handed-off call: the next one takes it over silently and writes its end record', async () => {
    const { a, b, caller, agent, transferMessage, taps } = await handedOffCall(true);
    expect(taps).toHaveLength(4); // a snoop and a media leg per person

    a.kill();
    // b claims once a's lease ran out, hangs up a's muted leg and taps, and taps the two people again
    await waitFor(() => emu.requestsTo('POST', /\/snoop$/).length === 4, 5000, 'b taps the call');
    await waitFor(() => taps.every((id) => !emu.channels.has(id)), 3000, "a's taps hung up");
    expect(caller.isEnded).toBe(false);
    await agent.sendPcm(tone(600), { speed: 2 });
    await agent.sendSilence(800, { speed: 2 });
    await waitFor(() => b.deps.published.some((e) => e.type === 'transcript' && !e.partial), 5000, 'the agent heard');
    caller.hangup();
    await waitFor(() => b.finished.length === 1, 5000, 'b records the call');

    expect(spoken(b)).toEqual([]); // nobody was spoken to
    // what the agent console follows (across instances): b's call-started clears "bot lost", its call-ended closes it
    const told = b.deps.published.filter((e) => e.type === 'call-started' || e.type === 'call-ended');
    expect(told.map((e) => e.type)).toEqual(['call-started', 'call-ended']);
    const records = stores!.records;
    expect(records.submitted.map((r) => r.event)).toEqual(['escalation', 'end']);
    const end = records.of('end')[0]!;
    expect(end.outcome).toBe('escalated');
    expect(end.escalation).toMatchObject({ reason: 'caller-request', target: 'agent', outcome: 'answered' });
    expect(end.transcript.map((e) => [e.speaker, e.text])).toEqual([
      ['bot', GREETING],
      ['caller', 'a question about my bill'],
      ['bot', 'Billing answer.'],
      ['caller', 'a person please'],
      ['bot', transferMessage],
      ['agent', 'the agent here'],
    ]);
    await expectAllReleased(b, caller, agent);
  });

  it('kill -9 after the bot left a handed-off call: the next one hangs up the agent when the caller leaves', async () => {
    const { a, b, caller, agent } = await handedOffCall(false);
    await waitFor(() => a.finished.length === 1, 3000, "a's core wrote the end record at the hand-off");
    expect(stores!.records.submitted.map((r) => r.event)).toEqual(['escalation', 'end']);

    a.kill();
    await waitFor(() => b.backend.calls.size === 1, 5000, 'b watches the call');
    caller.hangup();
    await expectAllReleased(b, caller, agent);
    expect(spoken(b)).toEqual([]);
    expect(b.finished).toEqual([]); // no call core on it: its record went out at the hand-off
    expect(stores!.records.submitted).toHaveLength(2);
  });

  it('the caller hangs up while the call is being claimed: one end record from the stored state, nothing left', async () => {
    const { a, b, caller, before } = await pairWithCall('memory', { bScript: [] });

    a.kill();
    await waitFor(() => emu.outboundConnections.length === 2, 3000, 'the socket reopened to b');
    caller.hangup(); // b is still waiting for a's lease to run out
    await waitFor(() => b.finished.length === 1, 5000, 'the call core on b records the call');
    expect(spoken(b)).toEqual([]); // nobody left to talk to
    await expectRecordedAfterHangup(b, caller, before);
  });

  it('drain: the caller hangs up while Asterisk reopens the socket; the next instance finishes the call', async () => {
    // the balancer's next pick is a again: draining, it refuses
    const order = (a: Instance, b: Instance) => [a, a, b];
    const { a, b, caller, before } = await pairWithCall('memory', { bScript: [], order, reconnectIntervalMs: 500 });

    const stopped = a.backend.stop({ handOver: true });
    await waitFor(() => a.finished.length === 1 && emu.outboundOpen === 0, 3000, 'a hands the call over');
    expect(a.finished[0]!.record.outcome).toBe('in-progress');
    caller.hangup(); // between Asterisk's refused attempt and the next one: the events wait for the next socket
    await stopped;
    await waitFor(() => b.finished.length === 1, 5000, 'b records the call');
    expect(emu.outboundConnections.map((c) => c.reconnect)).toEqual([false, true]);
    await expectRecordedAfterHangup(b, caller, before);
  });

  it.each(['memory', 'redis'] as const)(
    '%s, drain: the caller hangs up as the instance lets go of the call; the next instance finishes the call',
    async (kind) => {
      const { a, b, caller, before } = await pairWithCall(kind, { bScript: [] });

      const stopped = a.backend.stop({ handOver: true });
      // a hands the call over (its drain timeout ran out) the moment the caller hangs up: Asterisk sends the hang-up on
      // a's socket, still open, and a, letting go, routes it to nobody; nothing is queued for the reopened socket, and
      // the caller is no longer in the call's app when b looks
      caller.hangup();
      await stopped;
      expect(emu.lostEvents).toBe(0); // the hang-up went out on a's socket, none is queued for the next one
      expect(a.finished[0]!.record.outcome).toBe('in-progress');
      await waitFor(() => b.finished.length === 1, 5000, 'b records the call');
      expect(emu.outboundConnections.map((c) => c.reconnect)).toEqual([false, true]);
      await expectRecordedAfterHangup(b, caller, before);
    },
  );

  it('an instance that lost its socket but lives lets go: the next one claims the call once it did', async () => {
    const { a, b, caller, before } = await pairWithCall();

    // half-open: Asterisk sees the drop and reopens the socket to b; a sees nothing until its pings go unanswered
    const cutAt = performance.now();
    proxy!.halfOpen(0);
    await waitFor(() => a.finished.length === 1, 5000, 'a lets go of the call');
    const letGoAt = a.finished[0]!.at;
    expect(letGoAt - cutAt).toBeGreaterThan(PING_MS); // it noticed by its own pings …
    expect(a.finished[0]!.record.outcome).toBe('in-progress'); // … detached: no end, no record
    expect(a.backend.calls.size).toBe(0);
    expect(a.backend.ports.inUse).toBe(0); // its media socket is closed: it speaks into the call no more
    await waitFor(() => firstHeardAfter(caller, letGoAt) !== null, 5000, 'the caller hears the second instance');
    const heard = firstHeardAfter(caller, cutAt);
    // b claimed only after a released its lease (never a live instance's call)
    expect(heard).not.toBeNull();
    expect(heard!).toBeGreaterThan(letGoAt);
    expect(heard! - letGoAt).toBeLessThan(LEASE_MS + 1000);
    expect(caller.isEnded).toBe(false);
    await expectSwapped(b, caller, before);
    await finishOn(b, caller);
  });

  it('a live instance whose lease another took (it stalled) lets go and never hangs the caller up', async () => {
    const { a, b, caller, before } = await pairWithCall();

    // a stalled past its lease and b holds the call now: a's next renewal is refused
    const leases = stores!.leases();
    await leases.release(caller.channelId, 'bot-a');
    expect(await leases.acquire(caller.channelId, 'bot-b', 60_000)).toBe(true);
    await waitFor(() => a.finished.length === 1, 3000, 'a lets go of the call');
    expect(a.finished[0]!.record.outcome).toBe('in-progress');
    expect(caller.isEnded).toBe(false);
    // letting go closed the call's socket: Asterisk reopened it through the balancer to b, which took the call over
    await waitFor(() => spoken(b).length === 1, 5000, 'resume prompt at the second instance');
    expect(emu.outboundConnections.map((c) => c.reconnect)).toEqual([false, true]);
    await expectSwapped(b, caller, before);
    await finishOn(b, caller);
  });

  it.each(['once', 'twice'] as const)(
    'taken over %s: the caller hangs up as the taker reads the caller channel; the bridge and every leg go, one record',
    async (times) => {
      emu = await startAriEmulator();
      stores = memoryStores();
      const a = await startInstance('bot-a', ['a question about my bill']);
      const b = await startInstance('bot-b', times === 'once' ? [] : ['please cancel it']);
      const c = await startInstance('bot-c', []);
      await perCallThroughProxy([a, b, c]);
      const { caller } = await callServedBy(a);
      let taker = b;
      let transcript = [GREETING, 'a question about my bill', 'Billing answer.'];
      if (times === 'twice') {
        a.kill();
        await waitFor(() => listening(b) === 1, 5000, 'b resumed the call');
        await waitFor(() => quietFor(caller, 200), 3000, 'the resume prompt has reached the caller');
        taker = c;
        transcript = [...transcript, RESUME];
      }
      let killed = false;
      hangUpWhenTheTakerLooks(caller, () => killed);
      const bridge = (await where(caller)).bridgeId;
      (times === 'once' ? a : b).kill();
      killed = true;

      await waitFor(() => taker.finished.length === 1, 5000, 'the taker records the call');
      expect(caller.isEnded).toBe(true);
      expect(spoken(taker)).toEqual([]);
      expectOneRecord(transcript);
      await expectNothingLeft([taker], caller);
      expect(emu.requestsTo('DELETE', /^\/ari\/bridges\//).map((r) => r.path)).toEqual([`/ari/bridges/${bridge}`]);
    },
  );

  it('drain: the caller hangs up as the next instance reads the caller channel; nothing is left, one record', async () => {
    const { a, b, caller } = await pairWithCall('memory', { bScript: [] });
    let draining = false;
    hangUpWhenTheTakerLooks(caller, () => draining);
    draining = true;
    await a.backend.stop({ handOver: true });
    expect(a.finished[0]!.record.outcome).toBe('in-progress');

    await waitFor(() => b.finished.length === 1, 5000, 'b records the call');
    expect(spoken(b)).toEqual([]);
    expectOneRecord([GREETING, 'a question about my bill', 'Billing answer.']);
    await expectNothingLeft([b], caller);
  });

  it("the call's websocket closes before Asterisk answers the release: the bridge goes all the same", async () => {
    const { a, b, caller } = await pairWithCall('memory', { bScript: [] });
    a.kill();
    await waitFor(() => listening(b) === 1, 5000, 'b resumed the call');
    // Asterisk carries out the DELETE of b's media leg, but its answer never comes: the per-call socket closes
    // STASIS_END_POST_WAIT after the caller left (a release slower than that on a loaded box is the same)
    const leg = (await where(caller)).mediaChannelId;
    emu.withholdAnswers((r) => r.method === 'DELETE' && r.path === `/ari/channels/${leg}`);
    caller.hangup();

    await waitFor(() => b.finished.length === 1, 5000, 'b records the call');
    expectOneRecord([GREETING, 'a question about my bill', 'Billing answer.', RESUME]);
    await expectNothingLeft([b], caller);
  });

  it.each(['as Asterisk sends its StasisStart', 'as the caller joins its bridge'] as const)(
    'a crash before anything of the call was stored (%s): the next instance greets the caller afresh, one record',
    async (moment) => {
      emu = await startAriEmulator();
      stores = memoryStores();
      const a = await startInstance('bot-a', []);
      const b = await startInstance('bot-b', ['please cancel it']);
      await perCallThroughProxy([a, b]);
      let killed = false;
      const kill = () => {
        if (!killed) a.kill();
        killed = true;
      };
      if (moment === 'as Asterisk sends its StasisStart') emu.on('event', (ev) => ev.type === 'StasisStart' && kill());
      else emu.on('request', (r) => r.method === 'POST' && r.path.endsWith('/addChannel') && kill());
      const caller = await emu.placeCall();

      // Asterisk reopened the call's socket to b, with nothing stored and no StasisStart again: b starts the call
      await waitFor(() => listening(b) === 1, 5000, 'b greeted the caller');
      expect(killed).toBe(true);
      expect(spoken(a)).toEqual([]);
      expect(spoken(b)).toEqual([GREETING]);
      expect(emu.outboundConnections.map((c) => c.reconnect)).toEqual([false, true]);
      await waitFor(() => firstHeardAfter(caller, 0) !== null && quietFor(caller, 200), 3000, 'the caller heard it');
      await say(caller);
      await waitFor(() => spoken(b).includes('Order cancelled.'), 5000, 'the answer');
      caller.hangup();
      await waitFor(() => b.finished.length === 1, 5000, 'b records the call');
      expectOneRecord([GREETING, 'please cancel it', 'Order cancelled.']);
      // what a left (its bridge, with the caller in it) went before b set the call up
      await expectNothingLeft([b], caller);
    },
  );

  it('two instances claim one call at once: exactly one takes it over', async () => {
    emu = await startAriEmulator();
    stores = memoryStores();
    const a = await startInstance('bot-a', ['a question about my bill'], { app: 'voicebot' });
    const caller = await emu.placeCall();
    await waitFor(() => listening(a) === 1, 5000, 'greeting said');
    await say(caller);
    await waitFor(() => listening(a) === 2, 5000, 'first answer said');
    a.kill();
    const stored = (await stores.observe.get(`asterisk:${caller.channelId}`))!;
    const contenders = [
      await startInstance('bot-b', ['thanks, bye'], { app: 'voicebot-b' }),
      await startInstance('bot-c', ['thanks, bye'], { app: 'voicebot-c' }),
    ];
    const mediaBefore = emu.requestsTo('POST', /\/channels\/externalMedia$/).length;
    await Promise.all(contenders.map((c) => c.backend.takeOver(stored)));
    const winners = contenders.filter((c) => c.backend.calls.size === 1);
    expect(winners).toHaveLength(1);
    const [winner] = winners;
    const loser = contenders.find((c) => c !== winner)!;
    await waitFor(() => spoken(winner!).length === 1, 5000, 'resume prompt');
    expect(emu.requestsTo('POST', /\/channels\/externalMedia$/).length).toBe(mediaBefore + 1);
    expect(spoken(loser)).toEqual([]);
    expect(loser.backend.ports.inUse).toBe(0);
    expect(await stores.leaseHolder(caller.channelId)).toBe(winner!.id);
    // the winner finishes the call (the caller's thanks ends it): one end record
    await waitFor(() => listening(winner!) === 1, 5000, 'resume prompt said');
    await say(caller);
    await waitFor(() => winner!.finished.length === 1, 5000, 'the call ends');
    expect(stores.records.of('end')).toHaveLength(1);
    expect(stores.records.of('end')[0]!.transcript.filter((e) => e.text === GREETING)).toHaveLength(1);
    await waitFor(() => emu.channels.size === 0 && emu.bridges.size === 0, 3000, 'release');
    expect(winner!.backend.calls.size + loser.backend.calls.size).toBe(0);
  });
});
