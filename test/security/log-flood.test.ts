import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJambonzEmulator, type JambonzEmulator } from '../emulators/jambonz/index.js';
import { waitFor } from '../helpers/wait.js';
import { JAMBONZ_SECRET, JAMBONZ_WS_AUTH, metric, startJambonzApp, type SecurityApp } from './helpers.js';

const GARBAGE = 2000;

/** Item 7: garbage at line rate is counted in full but logs a few lines per connection and kind, then a summary. */
describe('log floods (item 7)', () => {
  let s: SecurityApp;
  let emu: JambonzEmulator;
  beforeAll(async () => {
    s = await startJambonzApp();
    emu = await startJambonzEmulator({
      appUrl: `${s.url}/jambonz`,
      mode: 'ws',
      webhookSecret: JAMBONZ_SECRET,
      wsApiAuth: JAMBONZ_WS_AUTH,
    });
  });
  afterAll(async () => {
    await emu?.close();
    await s?.stop();
  });

  const lines = (msg: string) => s.logs.filter((l) => l.msg === msg);

  it(`${GARBAGE} garbage frames on the audio socket and the WS API: every one counted, a handful logged`, async () => {
    const call = await emu.placeCall({ from: '+15550001111', to: '+15550000' });
    await call.audioReady(10_000);
    for (let i = 0; i < GARBAGE; i++) call.sendRaw(Buffer.alloc(321)); // odd length: not L16
    for (let i = 0; i < GARBAGE; i++) call.control?.send('{not json');
    const dropped = () => metric(s.url, 'voicebot_jambonz_malformed_frames_total');
    await waitFor(async () => (await dropped()) === 2 * GARBAGE, 15_000, 'every garbage frame counted');
    await call.hangup();
    await waitFor(() => lines('similar warnings suppressed (counted in metrics)').length === 2, 10_000, 'summaries');

    const audio = lines('dropped malformed frame on jambonz audio socket');
    const api = lines('dropped malformed WS API message');
    expect(audio.length).toBeGreaterThan(0);
    expect(audio.length).toBeLessThanOrEqual(3);
    expect(api.length).toBeGreaterThan(0);
    expect(api.length).toBeLessThanOrEqual(3);
    const summaries = lines('similar warnings suppressed (counted in metrics)');
    expect(summaries.map((l) => [l.kind, l.suppressed]).sort()).toEqual([
      ['odd_length', GARBAGE - audio.length],
      ['ws_api_not_json', GARBAGE - api.length],
    ]);
  });
});
