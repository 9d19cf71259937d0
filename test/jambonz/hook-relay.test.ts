/**
 * What the webhook relay trusts. jambonz's signature covers the body and its timestamp, not the URL: whoever captured
 * one signed hook can send it again within the tolerance with any `?via=`. Two instances behind a balancer, A serving
 * a call; the hooks below go straight to B, as an attacker (or a stale hook) would send them. B may pass a hook on only
 * to the instance the session store names as the call's server, never to an address the request names, and a hook
 * that says it was passed on already is verified like any other and never passed on again.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRecordSink } from '../../src/dialog/scripted.js';
import { MemoryLeaseStore } from '../../src/session/lease.js';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import { signWebhook } from '../../jambonz-adapter/src/signature.js';
import type { EmulatedCall } from '../emulators/jambonz/index.js';
import { waitFor } from '../helpers/wait.js';
import {
  GREETING,
  WEBHOOK_SECRET,
  counter,
  listening,
  say,
  spoken,
  startTakeoverRig,
  type BotInstance,
  type TakeoverRig,
} from './instances.js';

const BILL = 'a question about my bill';
const CANCEL = 'please cancel it';

/** A listening loopback HTTP server that is no bot instance: it records what reaches it and answers `[]`. */
async function startTrap(): Promise<{
  url: string;
  requests: { url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}> {
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const relays = (bot: BotInstance, outcome?: string) =>
  counter(bot, 'voicebot_jambonz_hook_relays_total', outcome ? { outcome } : {});

/** POSTs a hook body to `url` as jambonz would, with the given headers on top. */
function postHook(url: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

describe('jambonz webhook relay: what it trusts', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  });

  interface Rig extends TakeoverRig {
    records: MemoryRecordSink;
    logsB: string[];
    call: EmulatedCall;
    /** the call's listen actionHook as A put it in its verb (through the balancer, `?via=` A) */
    hookUrl: URL;
    /** a listen-ended hook body for the call, as jambonz sends it */
    body: string;
  }

  /** A and B (webhooks) behind the balancer; A serves a call up to its first answer, its state in the store. */
  async function start(scriptA = [BILL, CANCEL], config?: Record<string, unknown>): Promise<Rig> {
    const records = new MemoryRecordSink();
    const shared = {
      sessions: new MemorySessionStore(600),
      leases: new MemoryLeaseStore(),
      records,
      leaseMs: 1000,
      reconnectGraceMs: 1500,
    };
    closers.push(
      () => shared.sessions.close(),
      () => shared.leases.close(),
    );
    const logsB: string[] = [];
    const rig = await startTakeoverRig('webhook', shared, { a: scriptA, b: [] }, config, { b: logsB });
    closers.push(() => rig.close());
    const call = await rig.emu.placeCall({ from: '+15551230001', to: '+15550000' });
    await waitFor(() => listening(rig.a.deps) === 1, 8000, 'greeting said by A');
    await say(call);
    await waitFor(() => listening(rig.a.deps) === 2, 8000, 'first answer said by A');
    await waitFor(
      async () => (await shared.sessions.get(call.callSid))?.state === 'listening',
      3000,
      "A's state in the store",
    );
    const listen = call.verbArrays.at(-1)?.[0] as { verb: string; actionHook?: string };
    expect(listen.verb).toBe('listen');
    const hookUrl = new URL(listen.actionHook!);
    expect(hookUrl.searchParams.get('via')).toBe(`http://127.0.0.1:${rig.a.port}`);
    const body = JSON.stringify({ ...call.payload, call_status: 'in-progress' });
    return { ...rig, records, logsB, call, hookUrl, body };
  }

  /** A goes on with the call as if nothing happened: its next answer, one listen, one end record, B never in it. */
  async function expectUndisturbed(r: Rig): Promise<void> {
    await say(r.call);
    await waitFor(() => spoken(r.a.deps).includes('Order cancelled.'), 8000, 'A answers the next turn');
    expect(spoken(r.a.deps)).toEqual([GREETING, 'Billing answer.', 'Order cancelled.']);
    expect(r.call.listens).toBe(1);
    expect(r.call.ended).toBeNull();
    await r.call.hangup();
    await waitFor(() => r.a.finished.length === 1, 5000, "A's end of the call");
    expect(r.records.submitted.map((e) => e.event)).toEqual(['end']);
    expect(r.records.of('end')[0]!.transcript.map((e) => e.text)).toEqual([
      GREETING,
      BILL,
      'Billing answer.',
      CANCEL,
      'Order cancelled.',
    ]);
    expect(spoken(r.b.deps)).toEqual([]);
    expect(await counter(r.b, 'voicebot_jambonz_takeovers_total')).toBe(0);
    // the call's final status may reach B, which looks the call up once more: nothing stored, nothing to do
    await waitFor(() => r.b.backend.stats().adopting === 0, 3000, 'B done with the final status');
    expect(r.b.backend.stats()).toMatchObject({ calls: 0, running: 0 });
    expect(r.call.verbErrors).toEqual([]);
  }

  it('a signed hook replayed to B with ?via= a listening loopback server that is no instance: that server gets nothing', async () => {
    const r = await start();
    const trap = await startTrap();
    closers.push(() => trap.close());
    const signature = signWebhook(WEBHOOK_SECRET, r.body);
    const forged = new URL(`http://127.0.0.1:${r.b.port}${r.hookUrl.pathname}`);
    forged.searchParams.set('via', trap.url);

    const res = await postHook(forged.href, r.body, { 'jambonz-signature': signature });
    expect(res.status).toBe(200); // the signature is good: B answers it itself …
    // … the way it answers a listen's end for a call a live instance holds: A kept its lease, nothing to take over
    expect(await res.json()).toEqual([{ verb: 'hangup' }]);
    expect(trap.requests).toEqual([]);
    expect(await relays(r.b, 'refused')).toBe(1);
    expect(await relays(r.b)).toBe(1); // nothing passed on anywhere else either

    const warned = r.logsB.filter((l) => l.includes('not relayed'));
    expect(warned).toHaveLength(1);
    const line = JSON.parse(warned[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, callSid: r.call.callSid, hook: 'listen-ended', via: trap.url });
    const v1 = /v1=([0-9a-f]+)/.exec(signature)![1]!;
    for (const l of r.logsB) {
      expect(l).not.toContain(v1);
      expect(l).not.toContain(WEBHOOK_SECRET);
    }
    expect(warned[0]).not.toContain('+15551230001');

    await expectUndisturbed(r);
    expect(trap.requests).toEqual([]);
  });

  it('a request marked as relayed with a bad or no signature is refused like a direct hook (401), nothing passed on', async () => {
    const r = await start();
    const url = `http://127.0.0.1:${r.b.port}${r.hookUrl.pathname}${r.hookUrl.search}`;
    const forgedSignature = signWebhook('not-the-secret', r.body);
    const direct = await postHook(url, r.body, { 'jambonz-signature': forgedSignature });
    const relayed = await postHook(url, r.body, { 'jambonz-signature': forgedSignature, 'x-voicebot-relayed': '1' });
    const unsigned = await postHook(url, r.body, { 'x-voicebot-relayed': '1' });
    expect([direct.status, relayed.status, unsigned.status]).toEqual([401, 401, 401]);
    expect(await relayed.json()).toEqual(await direct.json());
    const rejected = (reason: string) => counter(r.b, 'voicebot_jambonz_webhook_rejected_total', { reason });
    expect(await rejected('mismatch')).toBe(2);
    expect(await rejected('missing')).toBe(1);
    expect(await relays(r.b)).toBe(0);
    expect(r.b.backend.stats().adopting).toBe(0);
    await expectUndisturbed(r);
  });

  it('a validly signed hook marked as relayed is answered by B itself, never passed on again', async () => {
    const r = await start();
    // exactly A's hook (its via names A, the call's server), as if another instance had passed it on to B
    const url = `http://127.0.0.1:${r.b.port}${r.hookUrl.pathname}${r.hookUrl.search}`;
    const res = await postHook(url, r.body, {
      'jambonz-signature': signWebhook(WEBHOOK_SECRET, r.body),
      'x-voicebot-relayed': '1',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ verb: 'hangup' }]); // A holds the call: B has nothing to take over
    expect(await relays(r.b)).toBe(0);
    await expectUndisturbed(r);
  });

  it("a dial's confirmHook that reaches B goes on to A, the caller's call's server (the hook names the agent's leg)", async () => {
    const r = await start([BILL, 'a person please'], {
      dialog: {
        greeting: GREETING,
        intents: [
          { name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] },
          { name: 'person', keywords: ['person'], escalate: true },
        ],
        routing: { default: 'agent', targets: { agent: { kind: 'sip', address: 'sip:agent@example.com' } } },
      },
    });
    // through the balancer from here: the listen's end (bringing A's dial) to B, the agent leg's three statuses to
    // A, B, A, the dial's confirmHook to B
    r.balancer.aim(1);
    await say(r.call);
    await waitFor(() => r.call.bridged, 8000, 'the caller is with the agent');
    // A hears of the answer through B within the ring time, long before its transfer would give up
    await waitFor(() => r.records.of('end').length === 1, 3000, "A's record of the answered hand-off");
    expect(r.records.submitted.map((e) => e.event)).toEqual(['escalation', 'end']);
    expect(r.records.of('end')[0]!.escalation).toMatchObject({ outcome: 'answered' });
    expect(await relays(r.b, 'answered')).toBe(2);
    expect(await relays(r.b)).toBe(2);
    expect(spoken(r.b.deps)).toEqual([]);
    expect(r.call.verbErrors).toEqual([]);
  });
});
