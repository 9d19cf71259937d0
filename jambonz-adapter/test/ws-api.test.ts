import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attached, startHarness, tone, waitFor, type Harness } from './harness.js';
import { validateVerbs } from '../../test/emulators/jambonz/index.js';
import { MAX_FRAME_BYTES, sendJson } from '../src/messages.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const wsUrl = (h: Harness, path: string) => `${h.appUrl.replace(/^http/, 'ws')}${path}`;

describe('jambonz WebSocket API', () => {
  it('acks session:new at once with a valid listen verb using hook names', async () => {
    h = await startHarness();
    const ws = new WebSocket(wsUrl(h, '/ws'), ['ws.jambonz.org']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('ws.jambonz.org');
    const started = Date.now();
    ws.send(
      JSON.stringify({
        type: 'session:new',
        msgid: 'abc',
        call_sid: 'cs-ws',
        data: { call_sid: 'cs-ws', from: '1', to: '2' },
      }),
    );
    const [raw] = (await once(ws, 'message', { signal: AbortSignal.timeout(5000) })) as [Buffer];
    const ack = JSON.parse(raw.toString()) as { type: string; msgid: string; data: Record<string, unknown>[] };
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ack).toMatchObject({ type: 'ack', msgid: 'abc' });
    expect(() => validateVerbs(ack.data)).not.toThrow();
    expect(ack.data[0]).toMatchObject({ verb: 'listen', actionHook: '/listen-ended' });
    ws.close();
  });

  it('refuses a connection without the ws.jambonz.org subprotocol', async () => {
    h = await startHarness();
    const ws = new WebSocket(wsUrl(h, '/ws'), ['something.else']);
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(1002);
  });

  it('protects the upgrade with basic auth when configured', async () => {
    h = await startHarness({ wsUsername: 'jambonz', wsPassword: 's3cret' });
    const bad = await h.emulator({ mode: 'ws', wsApiAuth: { username: 'jambonz', password: 'wrong' } });
    await expect(bad.placeCall({ from: '1', to: '2' })).rejects.toThrow(/refused/);
    expect(await h.counter('voicebot_jambonz_webhook_rejected_total', { reason: 'ws_api_auth' })).toBe(1);
    const good = await h.emulator({ mode: 'ws', wsApiAuth: { username: 'jambonz', password: 's3cret' } });
    const legP = h.nextLeg();
    await good.placeCall({ from: '1', to: '2' });
    expect((await legP).id).toBe(good.calls[0]!.callSid);
  });

  it('refuses an audio socket with the wrong per-call credentials', async () => {
    h = await startHarness();
    const emu = await h.emulator({ mode: 'ws' });
    const legP = h.nextLeg();
    const call = await emu.placeCall({ from: '1', to: '2' });
    await attached(await legP);
    const auth = `Basic ${Buffer.from(`${call.callSid}:not-the-token`).toString('base64')}`;
    const ws = new WebSocket(wsUrl(h, '/audio'), ['audio.jambonz.org'], { headers: { authorization: auth } });
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(401);
  });

  it('call:status completed ends the call and releases the leg and both sockets', async () => {
    h = await startHarness();
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    await call.hangup();
    expect(await leg.closed).toMatch(/completed|audio/);
    await waitFor(() => h.backend.stats().controlSockets === 0 && h.backend.stats().audioSockets === 0, 2000, 'close');
    expect(h.backend.stats()).toMatchObject({ calls: 0, running: 0 });
  });

  it('keeps the call across a dropped WS API socket (session:reconnect) and hangs up over the new one', async () => {
    h = await startHarness({ reconnectGraceMs: 2000 });
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    await call.reconnectControl();
    expect(leg.ended).toBe(false);
    expect(leg.held.control).toBe(true);
    await leg.hangup('goodbye');
    expect(await call.done).toBe('app hung up');
    expect(call.commands).toContain('command:call:status');
  });

  it('sendJson refuses any frame over 24 KiB', () => {
    const sent: unknown[] = [];
    const fake = { readyState: 1, OPEN: 1, send: (m: unknown) => sent.push(m) } as unknown as WebSocket;
    expect(sendJson(fake, { type: 'command', data: 'x'.repeat(MAX_FRAME_BYTES) })).toBe('oversize');
    expect(sendJson(fake, { type: 'command', data: 'x'.repeat(100) })).toBe('sent');
    expect(sent).toHaveLength(1);
  });

  it('counts and drops malformed WS API messages', async () => {
    h = await startHarness();
    const ws = new WebSocket(wsUrl(h, '/ws'), ['ws.jambonz.org']);
    await once(ws, 'open');
    ws.send('not json');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(JSON.stringify({ nope: true }));
    await waitFor(() => h.logs.filter((l) => l.includes('malformed WS API')).length === 3, 2000, 'three drops');
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'ws_api_not_json' })).toBe(1);
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'ws_api_binary' })).toBe(1);
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'ws_api_bad_message' })).toBe(1);
    ws.close();
  });

  it('binary audio before the metadata frame is counted and dropped', async () => {
    h = await startHarness();
    const emu = await h.emulator({ mode: 'ws' });
    const { call } = await h.callIn(emu, { from: '1', to: '2' });
    const listen = call.verbArrays[0]![0] as { url: string; wsAuth: { username: string; password: string } };
    const auth = `Basic ${Buffer.from(`${listen.wsAuth.username}:${listen.wsAuth.password}`).toString('base64')}`;
    const ws = new WebSocket(listen.url, ['audio.drachtio.org'], { headers: { authorization: auth } });
    await once(ws, 'open');
    ws.send(Buffer.alloc(640));
    await waitFor(() => h.logs.some((l) => l.includes('binary_before_metadata')), 2000, 'drop');
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'binary_before_metadata' })).toBe(1);
    ws.close();
  });
});

describe('jambonz audio at another rate than asked', () => {
  it('8 kHz frames on a 16 kHz leg are resampled to 20 ms frames at 16 kHz', async () => {
    h = await startHarness({ sampleRate: 16000 });
    const emu = await h.emulator({ mode: 'ws', streamRate: 8000 });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    const frames: Int16Array[] = [];
    leg.on('audio', (f) => frames.push(f));
    await call.sendAudio(tone(200, 8000), 8000); // 10 × 20 ms at 8 kHz
    await waitFor(() => frames.length >= 9, 2000, 'resampled frames');
    expect(frames.every((f) => f.length === 320)).toBe(true);
    expect(leg.inputSampleRate).toBe(16000);
  });
});

describe('jambonz WS API reconnect after the call ended here', () => {
  it('a session:reconnect for a call the bot already ended gets an ack and a hangup command', async () => {
    h = await startHarness();
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    call.control?.terminate(); // jambonz is away …
    await leg.hangup('bot done'); // … while the bot ends the call
    const ws = new WebSocket(wsUrl(h, '/ws'), ['ws.jambonz.org']);
    await once(ws, 'open');
    const messages: { type: string; command?: string }[] = [];
    ws.on('message', (m: Buffer) => messages.push(JSON.parse(m.toString()) as { type: string }));
    ws.send(JSON.stringify({ type: 'session:reconnect', msgid: 'r1', call_sid: call.callSid, data: call.payload }));
    await waitFor(() => messages.length === 2, 2000, 'ack and command');
    expect(messages[0]).toMatchObject({ type: 'ack', msgid: 'r1' });
    expect(messages[1]).toMatchObject({ type: 'command', command: 'call:status' });
    ws.close();
  });
});
