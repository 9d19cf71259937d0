import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/core/call-record.js';
import { readWav } from '../../src/media/wav.js';
import { runCli } from '../helpers/cli.js';
import { STUB_WHISPER, VAD_MODEL, clip } from '../helpers/fixtures.js';

const CLIP_A = clip('librispeech-test-clean-1089-134691-0000.wav');
const CLIP_B = clip('librispeech-test-clean-2830-3980-0043.wav');

interface SimulateJson {
  callId: string;
  record: CallRecord;
  submitted: Array<{ event: string; record: CallRecord }>;
  asr: Array<{
    turn: number;
    source: string;
    text: string;
    recognised: string | null;
    timings: { audioMs: number; processingMs: number; queueMs: number };
  }>;
  intents: Array<{ intent: string | null }>;
  turns: Array<{ input: string; botReacted: boolean }>;
  transfers: Array<{ target: string; headers: Record<string, string> }>;
  botAudio: { path: string | null; sampleRate: number; durationMs: number };
}

describe('voicebot simulate (real whisper.cpp on the weightless model: encoder only, real VAD, real espeak-ng)', () => {
  let dir: string;
  let configFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'voicebot-simulate-'));
    configFile = join(dir, 'voicebot.yaml');
    writeFileSync(
      configFile,
      [
        'speech:',
        '  vad:',
        `    modelPath: ${VAD_MODEL}`,
        '  asr:',
        '    whisperCpp:',
        `      modelPath: ${STUB_WHISPER}`,
      ].join('\n'),
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'runs WAV turns through the whole pipeline: ASR results with timings, bot audio, record',
    { timeout: 90_000 },
    async () => {
      const out = join(dir, 'bot.wav');
      const res = await runCli(
        ['simulate', '--config', configFile, '--wav', CLIP_A, '--wav', CLIP_B, '--out', out, '--json'],
        {},
        80_000,
      );
      expect(res.stderr).not.toMatch(/error/i);
      expect(res.code).toBe(0);
      const report = JSON.parse(res.stdout) as SimulateJson;

      // recognition ran on each turn (the stub model hears no words) and was timed
      expect(report.asr.length).toBeGreaterThanOrEqual(2);
      expect(new Set(report.asr.map((r) => r.turn))).toEqual(new Set([0, 1]));
      for (const r of report.asr) {
        expect(r.source).toBe('asr');
        expect(r.timings.audioMs).toBeGreaterThan(500);
        expect(r.timings.processingMs).toBeGreaterThan(0);
      }
      // the stub model hears no words; the call core drops empty turns, so the bot does not answer them
      for (const r of report.asr) expect(r.recognised).toBe('');
      expect(report.turns.map((t) => t.input)).toEqual([CLIP_A, CLIP_B]);

      // the greeting was spoken and is in what the caller heard
      const bot = report.record.transcript.filter((e) => e.speaker === 'bot');
      expect(bot.length).toBeGreaterThanOrEqual(1);
      const wav = readWav(readFileSync(out));
      expect(wav.sampleRate).toBe(8000);
      expect(report.botAudio.durationMs).toBeCloseTo((wav.samples.length / 8000) * 1000, 0);
      expect(wav.samples.some((s) => Math.abs(s) > 1000)).toBe(true);

      expect(report.record.callId).toBe(report.callId);
      expect(report.record.backend).toBe('simulate');
      expect(report.submitted.some((s) => s.event === 'end')).toBe(true);
    },
  );

  it('--text turns skip ASR and reach the intents: asking for a person escalates', { timeout: 60_000 }, async () => {
    const args = ['simulate', '--config', configFile, '--wav', CLIP_B, '--text', 'I want to talk to a person'];
    const res = await runCli(args, {}, 50_000);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/asr turn 1: "" conf [0-9.]+, audio \d+ ms, processing \d+ ms/);
    expect(res.stdout).toMatch(/asr turn 2: skipped \(--text\)/);
    expect(res.stdout).toContain('caller: I want to talk to a person');
    expect(res.stdout).toMatch(/escalation: to "agent" \(PJSIP\/agent\), reason: caller-request/);
    const record = JSON.parse(
      res.stdout.slice(res.stdout.indexOf('call record:') + 'call record:'.length),
    ) as CallRecord;
    expect(record.outcome).toBe('escalated');
    expect(record.escalation?.reason).toBe('caller-request');
  });

  it('refuses bad input with a clear message', { timeout: 30_000 }, async () => {
    const none = await runCli(['simulate', '--config', configFile]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give at least one --wav FILE or --text');
    const missing = await runCli(['simulate', '--config', configFile, '--wav', join(dir, 'nope.wav')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.wav');
  });
});
