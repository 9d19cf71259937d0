import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('callbacks via the jambonz REST API', () => {
  it('creates a call with the Bearer key; the answered call reaches the bot as outbound', async () => {
    h = await startHarness();
    const emu = await h.emulator({ rest: { accountSid: 'acct-1', apiKey: 'key-1' } });
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

  it('a wrong API key is a clear error, not a call', async () => {
    h = await startHarness();
    const emu = await h.emulator({ rest: { accountSid: 'acct-1', apiKey: 'key-1' } });
    const { backend } = await reconfigure(emu.restUrl!, 'wrong');
    await expect(backend.originate!({ kind: 'phone', address: '+1555', timeoutSec: 25 }, {})).rejects.toThrow(/401/);
    expect(emu.calls).toHaveLength(0);
  });
});

/** The harness backend with REST settings pointing at the emulator (config is read at call time). */
async function reconfigure(apiBaseUrl: string, apiKey: string) {
  const { Secret } = await import('../../src/config/secret.js');
  Object.assign(h.backend.config, {
    apiBaseUrl,
    accountSid: 'acct-1',
    apiKey: new Secret(apiKey),
    applicationSid: 'app-1',
    callerId: '+15550000',
  });
  return { backend: h.backend };
}
