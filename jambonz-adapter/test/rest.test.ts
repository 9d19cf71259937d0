import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { startHarness, waitFor, type Harness } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('callbacks via the jambonz REST API', () => {
  it('creates a call with the Bearer key; the answered call reaches the bot as outbound', async () => {
    h = await startHarness();
    const emu = await h.emulator({ rest: { accountSid: 'acct-1', apiKey: 'key-1', applications: ['app-1'] } });
    const { backend } = await reconfigure(emu.restUrl!, 'key-1');
    const legP = h.nextLeg();
    const sid = await backend.originate!({ kind: 'phone', address: '+15557654321', timeoutSec: 25 }, {});
    expect(emu.createCallRequests[0]!.body).toMatchObject({
      application_sid: 'app-1',
      from: '+15550000',
      to: { type: 'phone', number: '+15557654321' },
      timeout: 25,
    });
    const leg = await legP;
    expect(leg.id).toBe(sid);
    expect(leg.direction).toBe('outbound');
    expect(leg.from).toBe('+15550000');
  });

  it('without applicationSid it sends call_hook and the five speech settings the API server requires', async () => {
    h = await startHarness({ publicUrl: 'https://bot.example.com' });
    const emu = await h.emulator({ rest: { accountSid: 'acct-1', apiKey: 'key-1' } });
    await reconfigure(emu.restUrl!, 'key-1', { applicationSid: undefined });
    const sid = await h.backend.originate!({ kind: 'phone', address: '+15557654321', timeoutSec: 25 }, {});
    const body = emu.createCallRequests[0]!.body;
    expect(body).toMatchObject({
      call_hook: { url: 'https://bot.example.com/jambonz/call', method: 'POST' },
      call_status_hook: { url: 'https://bot.example.com/jambonz/status', method: 'POST' },
      speech_synthesis_vendor: expect.any(String) as string,
      speech_synthesis_language: expect.any(String) as string,
      speech_synthesis_voice: expect.any(String) as string,
      speech_recognizer_vendor: expect.any(String) as string,
      speech_recognizer_language: expect.any(String) as string,
    });
    expect(body).not.toHaveProperty('application_sid');
    // the call webhook reached the bot (the bot itself starts once the audio socket connects, which the unreachable
    // bot.example.com listen URL never does here)
    await waitFor(() => h.backend.leg(sid) !== undefined, 5000, 'the call known to the backend');
  });

  it.each([
    ['busy', 'busy'],
    ['no-answer', 'no-answer'],
    ['failed', 'failed'],
  ] as const)(
    'originate to a %s callee rejects with %s from the status hook, and no bot runs',
    async (callee, outcome) => {
      h = await startHarness();
      const emu = await h.emulator({
        rest: { accountSid: 'acct-1', apiKey: 'key-1', applications: ['app-1'] },
        dial: () => callee,
      });
      const { backend } = await reconfigure(emu.restUrl!, 'key-1');
      const err = await backend.originate!({ kind: 'phone', address: '+15557654321', timeoutSec: 25 }, {}).then(
        () => null,
        (e: unknown) => e as { outcome?: string; message: string },
      );
      expect(err?.outcome).toBe(outcome);
      expect(err?.message).toMatch(new RegExp(`SIP ${callee === 'busy' ? 486 : callee === 'failed' ? 503 : 487}`));
      expect(emu.calls[0]!.statusSent).toContain(callee);
      expect(h.legs).toHaveLength(0);
      expect(h.backend.stats().calls).toBe(0);
    },
  );

  it('originate in WS API mode waits for in-progress on the socket, then the bot runs the call', async () => {
    h = await startHarness();
    const emu = await h.emulator({
      mode: 'ws',
      rest: { accountSid: 'acct-1', apiKey: 'key-1', applications: ['app-1'] },
    });
    const { backend } = await reconfigure(emu.restUrl!, 'key-1');
    const legP = h.nextLeg();
    const sid = await backend.originate!({ kind: 'phone', address: '+15557654321', timeoutSec: 25 }, {});
    expect(emu.calls[0]!.statusSent.slice(0, 3)).toEqual(['trying', 'ringing', 'in-progress']);
    expect((await legP).id).toBe(sid);
  });

  it('a callee jambonz never reports on fails as no-answer after the ring time on the injected clock, and is cancelled', async () => {
    const clock = new FakeClock();
    h = await startHarness({}, { clock });
    // A REST peer that accepts the call and then reports nothing at all.
    const seen: Array<{ method: string; url: string; auth: string; body: string }> = [];
    const silent = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization ?? '', body });
        if (req.method === 'PUT') res.writeHead(202).end();
        else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid: 'silent-1' }));
      });
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const { backend } = await reconfigure(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, 'key-1');
      let settled: unknown = null;
      const p = backend.originate!({ kind: 'phone', address: '+15557654321', timeoutSec: 25 }, {}).catch(
        (e: unknown) => (settled = e),
      );
      await waitFor(() => clock.pending > 0, 5000, 'the ring timer armed');
      clock.advance(25_000);
      await Promise.resolve();
      expect(settled).toBeNull();
      clock.advance(10_000);
      await p;
      expect((settled as { outcome?: string }).outcome).toBe('no-answer');
      expect(clock.pending).toBe(0);
      // and jambonz is told to cancel the INVITE, so a late answer never reaches the bot (call-session.js)
      await waitFor(() => seen.length === 2, 5000, 'the cancel request');
      expect(seen[1]).toEqual({
        method: 'PUT',
        url: '/v1/Accounts/acct-1/Calls/silent-1',
        auth: 'Bearer key-1',
        body: JSON.stringify({ call_status: 'no-answer' }),
      });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('the REST peer answers 400 like jambonz-api-server', async () => {
    h = await startHarness();
    const emu = await h.emulator({ rest: { accountSid: 'acct-1', apiKey: 'key-1', applications: ['app-1'] } });
    const post = async (body: object) => {
      const res = await fetch(`${emu.restUrl}/v1/Accounts/acct-1/Calls`, {
        method: 'POST',
        headers: { authorization: 'Bearer key-1', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { msg?: string } };
    };
    const base = { from: '+15550000', to: { type: 'phone', number: '+15557654321' } };
    const noSpeech = await post({ ...base, call_hook: { url: 'https://bot.example.com/jambonz/call' } });
    expect(noSpeech.status).toBe(400);
    expect(noSpeech.body.msg).toBe(
      'either application_sid or set of speech_synthesis_vendor, speech_synthesis_language, speech_synthesis_voice, ' +
        'speech_recognizer_vendor, speech_recognizer_language required',
    );
    expect((await post({ ...base, application_sid: 'nope' })).body.msg).toBe('application_sid not found nope');
    expect((await post({ ...base, from: undefined, application_sid: 'app-1' })).body.msg).toBe(
      'missing from parameter',
    );
    expect(emu.calls).toHaveLength(0);
  });

  it('a wrong API key is a clear error, not a call', async () => {
    h = await startHarness();
    const emu = await h.emulator({ rest: { accountSid: 'acct-1', apiKey: 'key-1' } });
    const { backend } = await reconfigure(emu.restUrl!, 'wrong');
    await expect(backend.originate!({ kind: 'phone', address: '+1555', timeoutSec: 25 }, {})).rejects.toThrow(/401/);
    expect(emu.calls).toHaveLength(0);
  });
});

/** The harness backend with REST settings pointing at the emulator (config is read at call time). */
async function reconfigure(apiBaseUrl: string, apiKey: string, extra: Record<string, unknown> = {}) {
  const { Secret } = await import('voicebot/config');
  Object.assign(h.backend.config, {
    apiBaseUrl,
    accountSid: 'acct-1',
    apiKey: new Secret(apiKey),
    applicationSid: 'app-1',
    callerId: '+15550000',
    ...extra,
  });
  return { backend: h.backend };
}
