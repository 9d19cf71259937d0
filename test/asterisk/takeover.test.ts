/**
 * A call handed from one bot process to another on Asterisk goes through the call core's detach/resume: the first
 * process submits no end record and leaves the call's state in the session store; the second reattaches the channels
 * (resync) and resumes the dialog from the store: no second greeting, the transcript goes on, one end record.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/core/call-record.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, MemoryRecordSink, ToneTts, type TestDeps } from '../../src/dialog/scripted.js';
import { AriClient } from '../../src/telephony/asterisk/ari-client.js';
import { AriEventStream } from '../../src/telephony/asterisk/ari-events.js';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import { assertReleased, type MemorySessions, startTestBackend, tone, useAsteriskRig, waitFor } from './helpers.js';

const GREETING = 'Hello, how can I help?';
const intents = [
  { name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Order cancelled.'] },
];

function botDeps(instanceId: string, sessions: MemorySessions, records: MemoryRecordSink, asrScript: string[]) {
  const deps = createTestDeps({
    asrScript,
    records,
    sessions,
    tts: new ToneTts({ msPerChar: 10 }),
    config: { dialog: { greeting: GREETING, intents, resumePrompt: 'Sorry, where were we?' } },
  });
  deps.instanceId = instanceId;
  return deps;
}

const spoken = (deps: TestDeps) => (deps.tts as ToneTts).spoken;

/** ApplicationReplaced: another connection registers the app name; the old process hands its calls over. */
async function replaceApp(emu: AriEmulator): Promise<() => Promise<void>> {
  const client = new AriClient({ ...emu.ariConfig(), requestTimeoutMs: 2000 });
  const other = new AriEventStream({
    url: client.eventsUrl(),
    headers: client.authHeaders(),
    logger: pino({ level: 'silent' }),
  });
  await other.start(AbortSignal.timeout(2000));
  return () => other.stop();
}

describe('Asterisk hand-over goes through detach/resume', () => {
  const rig = useAsteriskRig();

  it.each(['stop with hand-over (drain)', 'ApplicationReplaced'] as const)(
    '%s: no end record from the first process; the second resumes without a second greeting',
    async (how) => {
      rig.emu = await startAriEmulator();
      const records = new MemoryRecordSink();
      const firstRecords: CallRecord[] = [];
      const bot: { deps?: TestDeps } = {};
      const first = await startTestBackend(rig.emu, async (leg) => {
        firstRecords.push(await runCall(leg, bot.deps!));
      });
      const sessions = first.sessions;
      const a = (bot.deps = botDeps('bot-a', sessions, records, ['a question about my bill']));
      const listening = (deps: TestDeps) =>
        deps.published.filter((e) => e.type === 'state' && e.to === 'listening').length;
      const caller = await rig.emu.placeCall();
      await waitFor(() => listening(a) === 1, 5000, 'greeting said');
      await caller.sendPcm(tone(600), { speed: 2 });
      await caller.sendSilence(800, { speed: 2 });
      await waitFor(() => listening(a) === 2, 5000, 'first answer said');
      expect(spoken(a)).toEqual([GREETING, 'Billing answer.']);

      let stopOther: (() => Promise<void>) | undefined;
      if (how === 'ApplicationReplaced') stopOther = await replaceApp(rig.emu);
      else await first.backend.stop({ handOver: true });
      await waitFor(() => firstRecords.length === 1, 3000, 'the first process lets go');
      expect(firstRecords[0]!.outcome).toBe('in-progress');
      expect(records.submitted).toEqual([]); // no end record: the call is not over
      expect(caller.isEnded).toBe(false);
      expect(sessions.map.get(caller.channelId)).toMatchObject({ owner: '', dialog: { greeted: true } });
      if (how === 'ApplicationReplaced') {
        await first.backend.stop({ handOver: true });
        await stopOther!();
      }
      expect(first.backend.ports.inUse).toBe(0);

      const b = botDeps('bot-b', sessions, records, ['please cancel it']);
      const finished: CallRecord[] = [];
      rig.t = await startTestBackend(rig.emu, async (leg) => void finished.push(await runCall(leg, b)), {
        like: first,
      });
      await waitFor(() => spoken(b).length === 1, 5000, 'resume prompt');
      expect(spoken(b)).toEqual(['Sorry, where were we?']);
      expect(sessions.map.get(caller.channelId)?.owner).toBe('bot-b');
      const heardBefore = caller.audibleMs();
      await waitFor(() => listening(b) === 1, 5000, 'resume prompt said');
      expect(caller.audibleMs()).toBeGreaterThan(heardBefore + 100); // the second process is heard
      await caller.sendPcm(tone(600), { speed: 2 });
      await caller.sendSilence(800, { speed: 2 });
      await waitFor(() => spoken(b).includes('Order cancelled.'), 5000, 'second answer');
      caller.hangup();
      await waitFor(() => finished.length === 1, 5000, 'end record');
      expect(records.of('end')).toHaveLength(1);
      expect(records.submitted).toHaveLength(1);
      const record = records.of('end')[0]!;
      expect(record.transcript.filter((e) => e.text === GREETING)).toHaveLength(1);
      expect(record.transcript.map((e) => e.text)).toEqual([
        GREETING,
        'a question about my bill',
        'Billing answer.',
        'Sorry, where were we?',
        'please cancel it',
        'Order cancelled.',
      ]);
      await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    },
  );
});
