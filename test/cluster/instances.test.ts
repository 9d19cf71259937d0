import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/call-events.js';
import { RedisCallbackGuards } from '../../src/web/webhooks/guards.js';
import { makeRecord, tempDir } from '../crm/helpers.js';
import { STUB_WHISPER } from '../helpers/fixtures.js';
import { startRedis, type RestartableRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { postZendeskWebhook } from '../helpers/zendesk-webhook.js';

const SECRET = 'cluster-webhook-secret';
const CHILD = join(import.meta.dirname, 'instance-child.ts');
const HEARTBEAT_MS = 300;

interface Instance {
  url: string;
  child: ChildProcess;
  send(msg: unknown): void;
  exited: Promise<number | null>;
}

interface ConsoleCall {
  callId: string;
  phone: string;
  ended: boolean;
  transcript: unknown[];
  state: string;
  botLost?: { instanceId: string; since: string };
}

describe('several bot processes on one redis-server', () => {
  let redis: RestartableRedis;
  const tmp = tempDir('voicebot-cluster-');
  const instances: Instance[] = [];

  const start = async (k: number): Promise<Instance> => {
    const config = {
      web: { port: 0, host: '127.0.0.1' },
      // short heartbeats: a killed instance is taken for dead after 3 × 300 ms instead of the default 3 × 2 s
      redis: { url: redis.url, keyPrefix: 'cluster:', heartbeatMs: HEARTBEAT_MS },
      speech: { asr: { whisperCpp: { modelPath: STUB_WHISPER } } },
      crm: {
        sinks: [{ type: 'file', path: join(tmp.dir, `tickets-${k}.jsonl`) }],
        outbox: { dir: join(tmp.dir, `outbox-${k}`) },
        zendeskWebhookSecret: SECRET,
      },
    };
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, CONFIG: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.startsWith('{"url"')) resolve((JSON.parse(l) as { url: string }).url);
      });
      void exited.then((code) => reject(new Error(`instance ${k} exited with ${code}`)));
    });
    const send = (msg: unknown) => child.stdin!.write(`${JSON.stringify(msg)}\n`);
    return { url, child, send, exited };
  };
  const consoleCalls = async (i: Instance) =>
    ((await (await fetch(`${i.url}/agent/api/calls`)).json()) as { calls: ConsoleCall[] }).calls;

  beforeAll(async () => {
    redis = await startRedis();
    instances.push(...(await Promise.all([0, 1, 2].map(start))));
  }, 60_000);
  afterAll(async () => {
    for (const i of instances) {
      i.send({ stop: true });
      await Promise.race([i.exited, new Promise((r) => setTimeout(r, 5000))]);
      if (i.child.exitCode === null) i.child.kill('SIGKILL');
    }
    await redis?.stop();
    tmp.cleanup();
  });

  it('the agent console of every instance, and of one started later, shows all 30 calls of the 3 instances', async () => {
    const phoneOf = (k: number, j: number) => `+1555000${k}${String(j).padStart(3, '0')}`;
    instances.forEach((inst, k) => {
      for (let j = 0; j < 10; j++) {
        const callId = `cl-${k}-${j}`;
        const events: CallEvent[] = [
          { type: 'call-started', callId, phone: phoneOf(k, j), backend: 'asterisk', at: new Date().toISOString() },
          { type: 'transcript', callId, entry: { speaker: 'caller', text: `hello from ${k}`, atMs: 100 } },
        ];
        if (j % 2 === 0)
          events.push({ type: 'call-ended', callId, record: makeRecord({ callId, phone: phoneOf(k, j) }) });
        for (const e of events) inst.send({ publish: e });
      }
    });
    const expectAll = async (inst: Instance) => {
      await waitFor(async () => (await consoleCalls(inst)).length >= 30, 10_000, `30 calls on ${inst.url}`, 50);
      const calls = await consoleCalls(inst);
      expect(calls.map((c) => c.callId).sort()).toEqual(
        [0, 1, 2].flatMap((k) => Array.from({ length: 10 }, (_, j) => `cl-${k}-${j}`)).sort(),
      );
      for (const c of calls) {
        const [, k, j] = c.callId.split('-').map(Number);
        expect(c.phone, c.callId).toBe(phoneOf(k!, j!));
        expect(c.ended, c.callId).toBe(j! % 2 === 0);
        expect(c.transcript.length, c.callId).toBeGreaterThanOrEqual(1);
      }
    };
    for (const inst of instances) await expectAll(inst);
    // a console opened on a freshly started instance replays the calls that began before it
    const late = await start(3);
    instances.push(late);
    await expectAll(late);
  }, 60_000);

  it("a killed instance's unfinished calls show as 'bot lost' on the other consoles until another instance takes them over", async () => {
    const doomed = await start(9);
    const at = new Date().toISOString();
    for (const callId of ['lost-live', 'lost-ended'])
      doomed.send({ publish: { type: 'call-started', callId, phone: '+15550007777', backend: 'asterisk', at } });
    doomed.send({
      publish: { type: 'call-ended', callId: 'lost-ended', record: makeRecord({ callId: 'lost-ended' }) },
    });
    const find = async (i: Instance, id: string) => (await consoleCalls(i)).find((c) => c.callId === id);
    await waitFor(async () => (await find(instances[0]!, 'lost-ended'))?.ended === true, 10_000, 'calls seen', 50);
    expect((await find(instances[0]!, 'lost-live'))?.botLost).toBeUndefined(); // alive: served, not lost
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const killedAt = performance.now();
    for (const inst of instances) {
      await waitFor(async () => (await find(inst, 'lost-live'))?.botLost !== undefined, 10_000, 'bot lost', 50);
    }
    // 3 missed heartbeats of 300 ms plus one read: far sooner than the default's 6 s
    expect(performance.now() - killedAt).toBeLessThan(4000);
    const lost = (await find(instances[1]!, 'lost-live'))!;
    expect(lost.ended).toBe(false);
    expect(lost.botLost!.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await find(instances[1]!, 'lost-ended'))!.botLost).toBeUndefined(); // ended calls are not lost
    // another instance takes the call over: its first event clears the mark everywhere
    instances[0]!.send({
      publish: { type: 'state', callId: 'lost-live', from: null, to: 'listening', cause: 'resumed' },
    });
    for (const inst of instances) {
      await waitFor(async () => (await find(inst, 'lost-live'))?.botLost === undefined, 10_000, 'taken over', 50);
      expect((await find(inst, 'lost-live'))!.state).toBe('listening');
    }
  }, 60_000);

  it('a Zendesk callback webhook is one callback whichever instance each delivery (or replay) reaches', async () => {
    const body = JSON.stringify({ ticket_id: 'cl-77', tags: 'callback', phone: '+15550009999' });
    const post = (inst: Instance, ts: string, invocation: string) =>
      postZendeskWebhook(inst.url, SECRET, body, { ts, invocation });
    const ts = new Date().toISOString();
    const first = await post(instances[0]!, ts, 'inv-a');
    expect(first.status).toBe(202);
    // Zendesk's retry of the same invocation, and a replay of the same signed request, on other instances
    expect(await (await post(instances[1]!, ts, 'inv-a')).json()).toEqual({ status: 'duplicate' });
    expect(await (await post(instances[2]!, ts, 'inv-b')).json()).toEqual({ status: 'duplicate' });
    // a new trigger for the same ticket (new timestamp and invocation) inside the cooldown, on another instance
    const later = new Date(Date.now() + 1000).toISOString();
    const again = await post(instances[1]!, later, 'inv-c');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'callback already requested' });
  });

  it('the daily callback budget is one budget: 2 instances racing 10 takes for 3 allowed grant exactly 3', async () => {
    const a = new RedisCallbackGuards(redis.url, 'budget:');
    const b = new RedisCallbackGuards(redis.url, 'budget:');
    try {
      const takes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).takeDaily('ticket-9', 3)),
      );
      expect(takes.filter(Boolean)).toHaveLength(3);
      expect(await a.firstSeen('k', 60_000)).toBe(true);
      expect(await b.firstSeen('k', 60_000)).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('Redis away: the webhook answers 503 within its bound (Zendesk retries) instead of risking a second call', async () => {
    const body = JSON.stringify({ ticket_id: 'cl-88', tags: 'callback', phone: '+15550008888' });
    await redis.kill();
    try {
      const t0 = performance.now();
      const res = await postZendeskWebhook(instances[0]!.url, SECRET, body, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('10');
      expect(performance.now() - t0).toBeLessThan(5000); // bounded by the guards' 1 s, not by Redis coming back
    } finally {
      await redis.restart();
    }
  });
});
