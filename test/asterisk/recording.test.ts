import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, ToneTts } from '../../src/dialog/scripted.js';
import type { CallRecord } from '../../src/core/call-record.js';
import type { CallEvent } from '../../src/core/call-events.js';
import { readWav } from '../../src/media/wav.js';
import { startAriEmulator } from '../emulators/ari/index.js';
import { assertReleased, startTestBackend, tone, waitFor, useAsteriskRig } from './helpers.js';

describe('Asterisk backend: bridge recording', () => {
  const rig = useAsteriskRig();

  it('off by default: nothing is recorded', async () => {
    rig.emu = await startAriEmulator();
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.received.length > 0, 3000, 'media');
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    expect(rig.emu.requestsTo('POST', /\/record$/)).toHaveLength(0);
  });

  it('on by config: spoken notice first, bounded bridge recording, WAV saved, recording event in the CallRecord', async () => {
    rig.emu = await startAriEmulator();
    const tts = new ToneTts({ msPerChar: 10 });
    const deps = createTestDeps({ tts, config: { dialog: { greeting: 'Hi.' } } });
    const published: CallEvent[] = [];
    const finished: CallRecord[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => void finished.push(await runCall(leg, deps)), {
      asterisk: { recording: { enabled: true, announce: true, maxSeconds: 60, notice: 'This call is recorded.' } },
      deps: { tts, events: deps.events },
    });
    deps.events.subscribe((e) => published.push(e));
    const caller = await rig.emu.placeCall();
    await waitFor(() => rig.emu.requestsTo('POST', /\/record$/).length === 1, 5000, 'recording started');
    expect(tts.spoken[0]).toBe('This call is recorded.'); // notice before the greeting, before recording
    const rec = rig.emu.requestsTo('POST', /\/record$/)[0]!;
    expect(rec.query).toMatchObject({ format: 'wav', maxDurationSeconds: '60' });
    await caller.sendPcm(tone(300), { speed: 0 });
    caller.hangup();
    await waitFor(() => finished.length === 1, 5000, 'record');
    const ev = published.find((e) => e.type === 'recording');
    expect(ev).toBeDefined();
    const path = (ev as Extract<CallEvent, { type: 'recording' }>).path;
    expect(existsSync(path)).toBe(true);
    const wav = readWav(readFileSync(path));
    expect(wav.sampleRate).toBe(8000);
    expect(wav.samples.length).toBeGreaterThanOrEqual(300 * 8);
    expect(finished[0]!.recording?.path).toBe(path);
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    expect(rig.emu.stored.size).toBe(0); // fetched, then deleted on Asterisk
  });
});
