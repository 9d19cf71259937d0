/**
 * Where a webhook for a call this instance does not serve may be passed on. jambonz signs a hook's body and timestamp,
 * not its URL: a captured hook can come back with any `?via=`. The target is the address the session store gives for
 * the instance serving the call, and `via` must name that same instance; nothing else is ever a target.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from 'voicebot/core';
import { createLogger } from 'voicebot/log';
import { telephonyConfig } from 'voicebot/telephony';
import { createJambonzBackend, type CallRegistry } from '../src/index.js';
import type { ArrivedHook } from '../src/hook-relay.js';
import { signWebhook } from '../src/signature.js';
import { SECRET, startHarness, type Harness } from './harness.js';

const OWN = 'http://127.0.0.1:3001';
const SERVING = 'http://127.0.0.2:3002';
const CALLER = '+15551230001';
const BASE = { http: 'http://127.0.0.1:3000', ws: 'ws://127.0.0.1:3000' };

describe('jambonz hook relay: a single instance (no shared call state)', () => {
  let h: Harness | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await h?.close();
    for (const close of closers.splice(0)) await close();
  });

  it('never passes a hook on, whatever its ?via= names (a listening loopback server gets nothing)', async () => {
    const reached: string[] = [];
    const trap = createServer((req, res) => {
      reached.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => trap.close(() => resolve())));
    const via = encodeURIComponent(`http://127.0.0.1:${(trap.address() as AddressInfo).port}`);
    h = await startHarness();
    const post = async (hook: string, payload: object) => {
      const body = JSON.stringify(payload);
      const res = await fetch(`${h!.appUrl}/hook/${hook}?via=${via}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'jambonz-signature': signWebhook(SECRET, body) },
        body,
      });
      return { status: res.status, verbs: (await res.json()) as unknown };
    };
    // a dial's confirmHook for a transfer nobody here runs: the agent's leg, its parent the caller's
    expect(await post('dial-confirm', { call_sid: 'agent-1', parent_call_sid: 'caller-1', from: CALLER })).toEqual({
      status: 200,
      verbs: [],
    });
    expect(await post('listen-ended', { call_sid: 'caller-1', from: CALLER })).toEqual({
      status: 200,
      verbs: [{ verb: 'hangup' }],
    });
    expect(reached).toEqual([]);
  });
});

describe('jambonz hook relay: the target comes from the session store', () => {
  interface Sent {
    url: string;
    headers: Record<string, string>;
    body: Buffer;
  }

  /** A backend with shared call state whose store says `servedBy` serves every call; its fetch records requests. */
  function backendWith(servedBy: Record<string, unknown> | undefined) {
    const sent: Sent[] = [];
    const logs: string[] = [];
    const fetchFn = (async (url: string | URL, init?: RequestInit) => {
      sent.push({
        url: String(url),
        headers: init?.headers as Record<string, string>,
        body: Buffer.from(init?.body as Uint8Array),
      });
      return new Response('[{"verb":"pause","length":1}]', { headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    // the holder is alive: a hook not passed on falls back to the takeover, which finds the call held and gives up
    const lookedUp: string[] = [];
    const registry: CallRegistry = {
      waitMs: 0,
      lookup: async (callSid) => {
        lookedUp.push(callSid);
        return { held: true, ...(servedBy ? { servedBy } : {}) };
      },
    };
    const metrics = createMetrics(false);
    const config = telephonyConfig.parse({
      backend: 'jambonz',
      jambonz: { webhookSecret: SECRET, instanceUrl: OWN },
    }).jambonz!;
    const backend = createJambonzBackend(config, {
      logger: createLogger({ level: 'info', format: 'json', redactPhoneNumbers: true }, { write: (l) => logs.push(l) }),
      metrics,
      fetch: fetchFn,
      registry,
    });
    const relays = async (outcome: string) =>
      (await metrics.getMetricsAsJSON())
        .find((m) => m.name === 'voicebot_jambonz_hook_relays_total')
        ?.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    return { backend, sent, logs, relays, lookedUp };
  }

  const payload = { call_sid: 'caller-1', from: CALLER, to: '+15550000', direction: 'inbound' as const };
  const arrived = (via: string | undefined): ArrivedHook => {
    const raw = Buffer.from(JSON.stringify(payload));
    return { via, raw, signature: signWebhook(SECRET, raw) };
  };

  it('a hook whose via names the stored server goes there, byte for byte with its signature', async () => {
    const b = backendWith({ instanceUrl: SERVING });
    const hook = arrived(SERVING);
    const verbs = await b.backend.hook('listen-ended', payload, BASE, 'webhook', hook);
    expect(verbs).toEqual([{ verb: 'pause', length: 1 }]);
    expect(b.sent).toHaveLength(1);
    expect(b.sent[0]!.url).toBe(`${SERVING}/jambonz/hook/listen-ended?via=${encodeURIComponent(SERVING)}`);
    expect(b.sent[0]!.headers).toMatchObject({ 'jambonz-signature': hook.signature, 'x-voicebot-relayed': '1' });
    expect(b.sent[0]!.body.equals(hook.raw)).toBe(true);
    expect(await b.relays('answered')).toBe(1);
  });

  it.each([
    ['an address the store does not give', 'http://127.0.0.1:9'],
    ['the stored server with a path', `${SERVING}/elsewhere`],
    ['nothing', undefined],
  ])('a hook whose via names %s is not passed on: counted, warned without secrets', async (_what, via) => {
    const b = backendWith({ instanceUrl: SERVING });
    const hook = arrived(via);
    expect(await b.backend.hook('listen-ended', payload, BASE, 'webhook', hook)).toEqual([{ verb: 'hangup' }]);
    expect(b.sent).toEqual([]);
    expect(await b.relays('refused')).toBe(1);
    const warned = b.logs.filter((l) => l.includes('not relayed'));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({ level: 40, callSid: 'caller-1', hook: 'listen-ended' });
    expect(warned[0]).not.toContain(hook.signature!.split('v1=')[1]!);
    expect(warned[0]).not.toContain(SECRET);
    expect(warned[0]).not.toContain('5551230001');
    expect(warned[0]).not.toContain('/elsewhere'); // the request's URL: its origin only
  });

  it('a hook replayed at line rate is counted every time, warned 3 times per 10 s', async () => {
    const b = backendWith({ instanceUrl: SERVING });
    const hook = arrived('http://127.0.0.1:9');
    for (let i = 0; i < 20; i++) await b.backend.hook('listen-ended', payload, BASE, 'webhook', hook);
    expect(b.sent).toEqual([]);
    expect(await b.relays('refused')).toBe(20);
    expect(b.logs.filter((l) => l.includes('not relayed'))).toHaveLength(3);
    await b.backend.stop();
    expect(b.logs.filter((l) => l.includes('suppressed')).map((l) => JSON.parse(l) as object)).toMatchObject([
      { kind: 'hook_relay_refused', suppressed: 17 },
    ]);
  });

  it.each([
    ['no process serves the call (detached, or nothing stored)', undefined],
    ['the store names this instance', { instanceUrl: OWN }],
    ['the owner stored no address', {}],
  ])('nothing is passed on when %s, and nothing is refused', async (_what, servedBy) => {
    const b = backendWith(servedBy);
    expect(await b.backend.hook('listen-ended', payload, BASE, 'webhook', arrived(SERVING))).toEqual([
      { verb: 'hangup' },
    ]);
    expect(b.sent).toEqual([]);
    expect(await b.relays('refused')).toBe(0);
    expect(b.logs.filter((l) => l.includes('not relayed'))).toEqual([]);
  });

  it('only our own hooks are passed on, to the hook URL we build (no path from the request)', async () => {
    const b = backendWith({ instanceUrl: SERVING });
    expect(await b.backend.hook('../../admin', payload, BASE, 'webhook', arrived(SERVING))).toEqual([
      { verb: 'hangup' },
    ]);
    expect(b.sent).toEqual([]);
  });

  it("a dial's confirmHook is looked up by the caller's call (parent_call_sid), and passed on there", async () => {
    const b = backendWith({ instanceUrl: SERVING });
    const confirm = { ...payload, call_sid: 'agent-1', parent_call_sid: 'caller-1' };
    const hook = arrived(SERVING);
    expect(await b.backend.hook('dial-confirm', confirm, BASE, 'webhook', hook)).toEqual([
      { verb: 'pause', length: 1 },
    ]);
    expect(b.sent.map((s) => s.url)).toEqual([
      `${SERVING}/jambonz/hook/dial-confirm?via=${encodeURIComponent(SERVING)}`,
    ]);
    expect(b.lookedUp).toEqual(['caller-1']);
  });
});
