/**
 * Takeover on jambonz: two bot instances share the call state (Redis, or one in-process memory store) behind a
 * round-robin balancer; jambonz (the emulator) reaches them through it. Instance A serves a call and dies like
 * `kill -9`; jambonz's WebSocket API reconnects through the balancer (session:reconnect) or, with webhooks, the dead
 * listen's actionHook goes through it, and B takes the call over once A's lease has run out: a new listen to B, the
 * resume prompt, the transcript going on, one end record.
 */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { MemoryRecordSink } from '../../src/dialog/scripted.js';
import { MemoryLeaseStore, RedisLeaseStore } from '../../src/session/lease.js';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import { RedisSessionStore } from '../../src/session/redis-store.js';
import { createLogger } from '../../src/log/logger.js';
import type { EmulatedCall } from '../emulators/jambonz/index.js';
import { startRedis, type RestartableRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import {
  counter,
  listening,
  say,
  spoken,
  GREETING,
  INTENTS,
  RESUME_PROMPT,
  firstAudibleAfter,
  startTakeoverRig,
  type BotInstance,
  type Shared,
  type TakeoverRig,
} from './instances.js';

const LEASE_MS = 1000;
const GRACE_MS = 1500;

const takeovers = (bot: BotInstance, mode: string) => counter(bot, 'voicebot_jambonz_takeovers_total', { mode });

interface Rig extends TakeoverRig {
  shared: Shared;
  records: MemoryRecordSink;
  a: BotInstance;
  b: BotInstance;
}

type StoreKind = 'redis' | 'memory';

describe.each(['redis', 'memory'] as StoreKind[])('jambonz takeover between two instances (%s store)', (kind) => {
  let redis: RestartableRedis | undefined;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  });

  async function start(
    mode: 'ws' | 'webhook',
    scripts?: { a: string[]; b: string[] },
    config?: Record<string, unknown>,
  ): Promise<Rig> {
    const records = new MemoryRecordSink();
    const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });
    const prefix = `t${Math.random().toString(36).slice(2, 8)}:`;
    const shared: Shared =
      kind === 'redis'
        ? {
            sessions: new RedisSessionStore({ url: redis!.url, keyPrefix: prefix, ttlSeconds: 600, logger }),
            leases: new RedisLeaseStore({ url: redis!.url, keyPrefix: prefix }),
            records,
            leaseMs: LEASE_MS,
            reconnectGraceMs: GRACE_MS,
          }
        : {
            sessions: new MemorySessionStore(600),
            leases: new MemoryLeaseStore(),
            records,
            leaseMs: LEASE_MS,
            reconnectGraceMs: GRACE_MS,
          };
    closers.push(
      () => shared.sessions.close(),
      () => shared.leases.close(),
    );
    const pair = await startTakeoverRig(
      mode,
      shared,
      scripts ?? {
        a: ['a question about my bill'],
        b: ['please cancel it'],
      },
      config,
    );
    closers.push(() => pair.close());
    return { ...pair, shared, records };
  }

  /** A call that A has served up to a first answer, its state written to the store. */
  async function callServedByA(r: Rig): Promise<EmulatedCall> {
    const call = await r.emu.placeCall({ from: '+15551230001', to: '+15550000' });
    await waitFor(() => listening(r.a.deps) === 1, 8000, 'greeting said by A');
    await say(call);
    await waitFor(() => listening(r.a.deps) === 2, 8000, 'first answer said by A');
    expect(spoken(r.a.deps)).toEqual([GREETING, 'Billing answer.']);
    await waitFor(
      async () => (await r.shared.sessions.get(call.callSid))?.state === 'listening',
      3000,
      "A's state in the store",
    );
    return call;
  }

  /** B goes on with the call to the end: a second answer, the caller hangs up, one end record, all released. */
  async function finishOnB(r: Rig, call: EmulatedCall): Promise<void> {
    await waitFor(() => listening(r.b.deps) === 1, 5000, 'resume prompt said by B');
    expect(spoken(r.b.deps)).toEqual([RESUME_PROMPT]);
    await say(call);
    await waitFor(() => listening(r.b.deps) === 2, 8000, 'second answer said by B');
    await call.hangup();
    await waitFor(() => r.b.finished.length === 1, 5000, "B's end of the call");
    expect(r.records.of('end')).toHaveLength(1);
    expect(r.records.submitted).toHaveLength(1);
    const record = r.records.of('end')[0]!;
    expect(record.outcome).not.toBe('in-progress');
    expect(record.transcript.map((e) => e.text)).toEqual([
      GREETING,
      'a question about my bill',
      'Billing answer.',
      RESUME_PROMPT,
      'please cancel it',
      'Order cancelled.',
    ]);
    await waitFor(
      () => {
        const s = r.b.backend.stats();
        return s.calls + s.audioSockets + s.controlSockets + s.running + s.adopting === 0;
      },
      3000,
      'B released the call',
    );
    expect(await r.shared.leases.holder(call.callSid)).toBeNull();
    expect(await r.shared.sessions.get(call.callSid)).toBeUndefined();
    expect(call.verbErrors).toEqual([]);
  }

  it.each(['ws', 'webhook'] as const)(
    '%s: A is killed (-9) mid-call; B takes over once its lease ran out and the caller hears B',
    async (mode) => {
      const r = await start(mode);
      const call = await callServedByA(r);
      const killedAt = performance.now();
      r.a.kill();
      await waitFor(() => firstAudibleAfter(call, killedAt) !== null, LEASE_MS + 5000, 'bot audio again');
      const silenceMs = firstAudibleAfter(call, killedAt)! - killedAt;
      // a dead process's lease runs out within LEASE_MS; B is heard soon after (jambonz reconnects after 500 ms)
      expect(silenceMs).toBeGreaterThan(LEASE_MS / 2);
      expect(silenceMs).toBeLessThan(LEASE_MS + 3000);
      expect(call.listens).toBe(2); // A's listen, then one to B
      expect((call.verbArrays.at(-1)?.[0] as { url?: string } | undefined)?.url).toBe(
        `ws://127.0.0.1:${r.b.port}/jambonz/audio`,
      );
      if (mode === 'ws') expect(call.controlReconnects).toBe(1);
      expect(await takeovers(r.b, mode)).toBe(1);
      expect(r.b.backend.stats().adopting).toBe(0);
      expect(r.a.finished).toEqual([]); // A died: it never returned, let alone submitted anything
      await finishOnB(r, call);
    },
  );

  /** The caller left before B could serve the call: one end record with A's stored story, nothing left anywhere. */
  async function expectRecordedAfterHangup(r: Rig, call: EmulatedCall): Promise<void> {
    await waitFor(() => r.b.finished.length === 1, LEASE_MS + 5000, 'B records the call');
    expect(spoken(r.b.deps)).toEqual([]); // nobody left to talk to
    expect(r.records.submitted.map((s) => s.event)).toEqual(['end']);
    expect(r.records.of('end')[0]!.transcript.map((e) => e.text)).toEqual([
      GREETING,
      'a question about my bill',
      'Billing answer.',
    ]);
    await waitFor(
      () => {
        const s = r.b.backend.stats();
        return s.calls + s.audioSockets + s.running + s.adopting === 0;
      },
      3000,
      'B released the call',
    );
    expect(await r.shared.leases.holder(call.callSid)).toBeNull();
    expect(await r.shared.sessions.get(call.callSid)).toBeUndefined();
  }

  it.each(['ws', 'webhook'] as const)(
    "%s: the caller hangs up while B waits for the dead A's lease: B writes the one end record",
    async (mode) => {
      const r = await start(mode);
      const call = await callServedByA(r);
      r.a.kill();
      // ws: jambonz reconnected to B (session:reconnect acked at once); webhook: A's listen ended, its actionHook waits at B
      if (mode === 'ws') await waitFor(() => call.controlReconnects === 1, 3000, 'the WS API socket reopened to B');
      else await waitFor(() => r.b.backend.stats().adopting === 1, 3000, "the listen's actionHook reached B");
      await call.hangup();
      await expectRecordedAfterHangup(r, call);
    },
  );

  it('ws: the caller hangs up before jambonz reopened the socket: the status alone reaches B, which records the call', async () => {
    const r = await start('ws');
    const call = await callServedByA(r);
    r.a.kill();
    await waitFor(() => !call.controlConnected, 3000, 'jambonz saw the socket drop');
    // within jambonz's 500 ms before it reconnects: the status opens a socket of its own (no session:reconnect)
    await call.hangup();
    await expectRecordedAfterHangup(r, call);
  });

  it('webhook: A alive, its listen socket dropped and the balancer gave the actionHook to B: A listens again', async () => {
    const r = await start('webhook', { a: ['a question about my bill', 'please cancel it'], b: [] });
    const call = await callServedByA(r);
    r.balancer.aim(1); // the next request through the balancer goes to B
    const atB = r.balancer.perTarget[1] ?? 0;
    call.dropAudio(); // the media server loses A's listen socket; A lives. The listen ends, its actionHook runs
    await waitFor(() => call.listens === 2 && call.audioOpen, 5000, 'a new listen');
    expect(r.balancer.perTarget[1]).toBeGreaterThan(atB); // the hook reached B …
    // … which passed it on to A (the call's server in the store, named in the hook's URL too): A's answer is a listen
    // to itself
    expect((call.verbArrays.at(-1)?.[0] as { url?: string } | undefined)?.url).toBe(
      `ws://127.0.0.1:${r.a.port}/jambonz/audio`,
    );
    expect(await counter(r.b, 'voicebot_jambonz_hook_relays_total', { outcome: 'answered' })).toBe(1);
    expect(await counter(r.b, 'voicebot_jambonz_hook_relays_total')).toBe(1);
    await say(call);
    await waitFor(() => spoken(r.a.deps).includes('Order cancelled.'), 8000, 'A answers the next turn');
    expect(spoken(r.a.deps)).toEqual([GREETING, 'Billing answer.', 'Order cancelled.']); // it never let go
    await call.hangup();
    await waitFor(() => r.a.finished.length === 1, 5000, "A's end of the call");
    expect(r.records.submitted.map((e) => e.event)).toEqual(['end']);
    expect(r.records.of('end')[0]!.transcript.map((e) => e.text)).toEqual([
      GREETING,
      'a question about my bill',
      'Billing answer.',
      'please cancel it',
      'Order cancelled.',
    ]);
    expect(await takeovers(r.b, 'webhook')).toBe(0);
    expect(r.b.backend.stats()).toMatchObject({ calls: 0, adopting: 0, running: 0 });
    expect(spoken(r.b.deps)).toEqual([]);
    expect(call.verbErrors).toEqual([]);
  });

  /** the bot hands a caller who asks for a person to sip:agent (the emulator's agent answers) */
  const handOff = (agentStaysSilent = false) => ({
    dialog: {
      greeting: GREETING,
      resumePrompt: RESUME_PROMPT,
      intents: [...INTENTS, { name: 'person', keywords: ['person'], escalate: true }],
      routing: { default: 'agent', targets: { agent: { kind: 'sip', address: 'sip:agent@example.com' } } },
    },
    telephony: { agentStaysSilent },
  });

  it('ws: A dies after handing the call to a person: B never hangs the caller and the agent up', async () => {
    const r = await start('ws', { a: ['a question about my bill', 'a person please'], b: [] }, handOff());
    const call = await callServedByA(r);
    await say(call);
    await waitFor(() => call.bridged, 8000, 'the caller is with the agent');
    await waitFor(() => r.a.finished.length === 1, 5000, "A's record of the hand-off");
    expect(r.records.submitted.map((e) => e.event)).toEqual(['escalation', 'end']);
    expect(r.records.of('end')[0]!.outcome).toBe('escalated');

    r.a.kill();
    await waitFor(() => call.controlReconnects === 1, 3000, 'the WS API socket reopened to B');
    await waitFor(() => r.b.backend.stats().adopting === 0, LEASE_MS + 4000, 'B done looking the call up');
    expect(call.ended).toBeNull(); // the caller still talks to the agent
    expect(call.bridged).toBe(true);
    call.agentHangup(); // the dial ends: its actionHook reaches B, the call ends
    await waitFor(() => call.ended !== null, 3000, 'the call ends');
    expect(r.records.submitted).toHaveLength(2); // nothing more from B
    expect(spoken(r.b.deps)).toEqual([]);
    // the final status made B look the call up once more: nothing stored, nothing to do
    await waitFor(() => r.b.backend.stats().adopting === 0, 3000, 'B done with the final status');
    expect(r.b.backend.stats()).toMatchObject({ calls: 0, running: 0, adopting: 0 });
    expect(r.records.submitted).toHaveLength(2);
  });

  it.each(['ws', 'webhook'] as const)(
    '%s: A dies while its bot listens to the caller and the agent: B writes the end record when the call ends',
    async (mode) => {
      const r = await start(mode, { a: ['a question about my bill', 'a person please'], b: [] }, handOff(true));
      const call = await callServedByA(r);
      await say(call);
      await waitFor(() => call.bridged && call.forks.length === 1, 8000, 'the caller is with the agent, A listens');
      expect(r.records.submitted.map((e) => e.event)).toEqual(['escalation']); // A owes the end record

      r.a.kill();
      if (mode === 'ws') await waitFor(() => call.controlReconnects === 1, 3000, 'the WS API socket reopened to B');
      // the call goes on past A's lease (ws: B holds it now and waits for the end; webhooks: nobody holds it)
      await waitFor(async () => (await r.shared.leases.holder(call.callSid)) !== 'bot-a', LEASE_MS + 2000, 'lease out');
      expect(call.ended).toBeNull();
      call.agentHangup(); // the dial ends, then the call
      await waitFor(() => r.b.finished.length === 1, 5000, 'B records the call');
      expect(spoken(r.b.deps)).toEqual([]);
      expect(r.records.submitted.map((e) => e.event)).toEqual(['escalation', 'end']);
      const end = r.records.of('end')[0]!;
      expect(end.outcome).toBe('escalated');
      expect(end.escalation).toMatchObject({ outcome: 'answered' });
      expect(end.transcript.map((e) => e.text)).toEqual([
        GREETING,
        'a question about my bill',
        'Billing answer.',
        'a person please',
        r.a.deps.config.dialog.transferMessage,
      ]);
      await waitFor(() => r.b.backend.stats().calls + r.b.backend.stats().adopting === 0, 3000, 'B released it');
      expect(await r.shared.sessions.get(call.callSid)).toBeUndefined();
      expect(await r.shared.leases.holder(call.callSid)).toBeNull();
    },
  );

  it('ws: A alive but its WebSocket API socket went to B: A lets go after the grace, B takes over', async () => {
    const r = await start('ws');
    const call = await callServedByA(r);
    call.dropControl(); // jambonz reconnects through the balancer: to B this time
    await waitFor(() => r.a.finished.length === 1, GRACE_MS + 3000, 'A lets go');
    expect(r.a.finished[0]!.outcome).toBe('in-progress'); // detached: no end record from A
    expect(r.records.submitted).toEqual([]);
    await waitFor(
      () => {
        const s = r.a.backend.stats();
        return s.calls + s.audioSockets + s.running === 0;
      },
      2000,
      'A serves nothing any more',
    );
    expect(await r.shared.leases.holder(call.callSid)).not.toBe('bot-a');
    await waitFor(() => spoken(r.b.deps).length === 1, 5000, 'B resumes');
    expect(call.controlReconnects).toBe(1);
    expect(call.listens).toBe(2);
    expect(spoken(r.a.deps)).toEqual([GREETING, 'Billing answer.']); // A said nothing after B took over
    await finishOnB(r, call);
    expect(spoken(r.a.deps)).toEqual([GREETING, 'Billing answer.']);
  });
});
