import { afterEach, describe, expect, it } from 'vitest';
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
