import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { loadConfigOrExit, withConfigOption } from '../cli/common.js';
import type { Config } from '../config/schema.js';
import { CallEventBus, type CallEvent } from '../core/call-events.js';
import type { CallRecord, CallRecordEvent } from '../core/call-record.js';
import { createMetrics } from '../core/metrics.js';
import { createLogger, type Logger } from '../log/logger.js';
import { concatPcm } from '../media/pcm.js';
import { resample } from '../media/resampler.js';
import { readWavFile, writeWav } from '../media/wav.js';
import type { Tts } from '../speech/types.js';
import { runSimulatedCall, type SimulatedTurn } from '../telephony/simulate/driver.js';
import { MemorySessionStore } from '../session/memory-store.js';
import { CollectingRecordSink } from '../telephony/simulate/memory.js';
import { SIM_RATE, SimulatedCallLeg } from '../telephony/simulate/simulated-leg.js';
import { TurnAsr, type TurnAsrResult, type TurnText } from '../telephony/simulate/turn-asr.js';
import type { TransferOutcome } from '../telephony/port.js';
import { runCall } from './call-core.js';

export type SimulateInput = { kind: 'wav'; path: string } | { kind: 'text'; text: string };

export interface SimulateOptions {
  config: Config;
  inputs: readonly SimulateInput[];
  logger: Logger;
  transferOutcome?: TransferOutcome;
  /** every CallEvent of the call, as it happens */
  onEvent?: (event: CallEvent) => void;
  onAsrResult?: (result: TurnAsrResult) => void;
  signal?: AbortSignal;
}

export interface SimulateReport {
  callId: string;
  record: CallRecord;
  /** records the core handed to the CRM port (escalation, end) */
  submitted: Array<{ event: CallRecordEvent; record: CallRecord }>;
  asr: TurnAsrResult[];
  intents: Array<Extract<CallEvent, { type: 'intent' }>>;
  turns: Array<{ input: string; botReacted: boolean }>;
  transfers: Array<{ target: string; headers: Record<string, string> }>;
  /** what the caller heard, 8 kHz PCM16 */
  botAudio: Int16Array;
  lineMs: number;
}

/** Leading silence before each caller turn, so the VAD sees speech start as it would on a line. */
const TURN_LEAD_MS = 200;

/**
 * One simulated phone call through the whole pipeline: each input becomes a caller turn on a μ-law 8 kHz
 * line into the call core (which upsamples for VAD/ASR), in accelerated time. Text turns are spoken by the
 * TTS (so the VAD hears a turn) and reach the dialog as that exact text, skipping recognition.
 */
export async function simulateCall(opts: SimulateOptions): Promise<SimulateReport> {
  const { config, logger } = opts;
  // WAVs first: a bad file fails before any model loads
  const wavs = new Map<number, Int16Array>();
  for (const [i, input] of opts.inputs.entries()) if (input.kind === 'wav') wavs.set(i, await wavTo8k(input.path));
  const metrics = createMetrics(false);
  const events = new CallEventBus();
  // loaded here, not at the top: other CLI commands should not pay for the speech stack's native modules
  const { createSpeech } = await import('../speech/index.js');
  // VAD on this thread: the accelerated line advances as fast as the core keeps up, and a decision still in a
  // worker when the next frame goes out would put the end of turn at a different line time than a phone hears it
  const speech = await createSpeech(
    { ...config, speech: { ...config.speech, vad: { ...config.speech.vad, inferenceThreads: 0 } } },
    logger,
    metrics,
  );
  const leg = new SimulatedCallLeg({ transferOutcome: opts.transferOutcome ?? 'answered' });
  const asr = new TurnAsr(speech.asr, {
    onResult: opts.onAsrResult,
    callerAudioPending: () => leg.callerQueuedFrames > 0,
  });
  const records = new CollectingRecordSink();
  const sessions = new MemorySessionStore(config.session.ttlSeconds);
  const intents: SimulateReport['intents'] = [];
  const unsubscribe = events.subscribe((event) => {
    if (event.callId !== leg.id) return;
    if (event.type === 'intent') intents.push(event);
    opts.onEvent?.(event);
  });
  try {
    const turns: SimulatedTurn[] = [];
    const plans: TurnText[] = [];
    for (const [i, input] of opts.inputs.entries()) {
      const speechPcm = input.kind === 'wav' ? wavs.get(i)! : await speak(speech.tts, input.text, opts.signal);
      turns.push({ pcm8k: withLeadingSilence(speechPcm), label: input.kind === 'wav' ? input.path : input.text });
      plans.push(input.kind === 'wav' ? { mode: 'asr' } : { mode: 'inject', text: input.text });
    }
    const deps = { config, logger, vad: speech.vad, asr, tts: speech.tts, records, sessions, events, metrics };
    const result = await runSimulatedCall({
      leg,
      events,
      turns,
      run: (callLeg, signal) => runCall(callLeg, deps, signal),
      recogniser: asr,
      beforeTurn: (i) => asr.setTurn(i, plans[i]!),
      signal: opts.signal,
    });
    return {
      callId: leg.id,
      record: result.record,
      submitted: records.submitted,
      asr: asr.results,
      intents,
      turns: result.turns.map((t) => ({ input: t.label, botReacted: t.botReacted })),
      transfers: leg.transfers.map((t) => ({ target: t.target.address, headers: t.headers })),
      botAudio: result.botAudio,
      lineMs: result.lineMs,
    };
  } finally {
    unsubscribe();
    await sessions.close();
    await speech.close();
  }
}

async function wavTo8k(path: string): Promise<Int16Array> {
  const wav = await readWavFile(path);
  const mono = wav.channels === 1 ? wav.samples : downmix(wav.samples, wav.channels);
  return wav.sampleRate === SIM_RATE ? mono : resample(mono, wav.sampleRate, SIM_RATE);
}

function downmix(interleaved: Int16Array, channels: number): Int16Array {
  const out = new Int16Array(Math.floor(interleaved.length / channels));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[i * channels + c]!;
    out[i] = Math.round(sum / channels);
  }
  return out;
}

async function speak(tts: Tts, text: string, signal?: AbortSignal): Promise<Int16Array> {
  const parts: Int16Array[] = [];
  for await (const chunk of tts.synthesize(text, { signal: signal ?? AbortSignal.timeout(30_000) })) {
    parts.push(chunk.sampleRate === SIM_RATE ? chunk.pcm : resample(chunk.pcm, chunk.sampleRate, SIM_RATE));
  }
  return concatPcm(parts);
}

function withLeadingSilence(pcm: Int16Array): Int16Array {
  const out = new Int16Array((SIM_RATE * TURN_LEAD_MS) / 1000 + pcm.length);
  out.set(pcm, out.length - pcm.length);
  return out;
}

// ---------------------------------------------------------------- CLI

interface SimulateCliOptions {
  config?: string;
  out?: string;
  json?: boolean;
  verbose?: boolean;
  transferOutcome: TransferOutcome;
}

const TRANSFER_OUTCOMES: readonly TransferOutcome[] = ['answered', 'busy', 'no-answer', 'failed'];

export function registerSimulateCommand(program: Command): void {
  // --wav and --text may interleave; their order is the order of the caller's turns
  const inputs: SimulateInput[] = [];
  withConfigOption(program.command('simulate'))
    .description('play WAV files (and text) as caller turns through the whole pipeline on a simulated phone line')
    .option('--wav <file>', 'a caller turn from a WAV file (repeatable)', (path: string) => {
      inputs.push({ kind: 'wav', path });
      return path;
    })
    .option('--text <words>', 'a caller turn given as text, skipping ASR (repeatable)', (text: string) => {
      inputs.push({ kind: 'text', text });
      return text;
    })
    .option('-o, --out <file>', 'write what the caller heard from the bot to this WAV (8 kHz)')
    .option('--json', 'print one JSON document instead of a readable log')
    .option(
      '--transfer-outcome <outcome>',
      `what a transfer to a person reports (${TRANSFER_OUTCOMES.join(', ')})`,
      'answered',
    )
    .option('-v, --verbose', 'show the bot logs (stderr) at the configured level')
    .action(async (opts: SimulateCliOptions) => {
      if (inputs.length === 0) {
        console.error('voicebot simulate: give at least one --wav FILE or --text "…"');
        process.exit(2);
      }
      if (!TRANSFER_OUTCOMES.includes(opts.transferOutcome)) {
        console.error(`voicebot simulate: --transfer-outcome must be one of ${TRANSFER_OUTCOMES.join(', ')}`);
        process.exit(2);
      }
      const config = loadConfigOrExit(opts);
      const level = opts.verbose ? config.log.level : 'warn';
      const logger = createLogger({ ...config.log, level, format: 'json' }, pino.destination(2));
      const print = (line: string) => process.stdout.write(`${line}\n`);
      const report = await simulateCall({
        config,
        inputs,
        logger,
        transferOutcome: opts.transferOutcome,
        onEvent: opts.json ? undefined : (e) => printEvent(e, print),
        onAsrResult: opts.json ? undefined : (r) => printAsr(r, print),
      }).catch((err: unknown) => {
        console.error(`voicebot simulate: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      });
      if (opts.out) await writeFile(opts.out, writeWav(report.botAudio, SIM_RATE));
      const botAudio = {
        path: opts.out ?? null,
        sampleRate: SIM_RATE,
        durationMs: (report.botAudio.length / SIM_RATE) * 1000,
      };
      if (opts.json) {
        const { botAudio: _pcm, ...rest } = report;
        print(JSON.stringify({ ...rest, botAudio }, null, 2));
      } else {
        if (opts.out) print(`bot audio: ${opts.out} (${(botAudio.durationMs / 1000).toFixed(1)} s at 8 kHz)`);
        print('call record:');
        print(JSON.stringify(report.record, null, 2));
      }
    });
}

const at = (ms: number) => `[${(ms / 1000).toFixed(2).padStart(6)}s]`;

function printEvent(event: CallEvent, print: (line: string) => void): void {
  switch (event.type) {
    case 'transcript':
      if (!event.partial) print(`${at(event.entry.atMs)} ${event.entry.speaker}: ${event.entry.text || '(no words)'}`);
      break;
    case 'intent':
      print(`         intent: ${event.intent ?? 'none'} (${event.confidence.toFixed(2)})${formatSlots(event.slots)}`);
      break;
    case 'escalation':
      print(`         escalation: to "${event.target}" (${event.address}), reason: ${event.reason}`);
      break;
    case 'escalation-outcome':
      print(`         transfer outcome: ${event.outcome}`);
      break;
    default:
      break;
  }
}

function printAsr(r: TurnAsrResult, print: (line: string) => void): void {
  const t = r.timings;
  const heard =
    r.source === 'injected' ? 'skipped (--text)' : `"${r.recognised ?? ''}" conf ${r.confidence.toFixed(2)}`;
  print(
    `         asr turn ${r.turn + 1}: ${heard}, audio ${t.audioMs} ms, processing ${t.processingMs} ms, queue ${t.queueMs} ms`,
  );
}

function formatSlots(slots: Record<string, string>): string {
  const entries = Object.entries(slots);
  return entries.length === 0 ? '' : ` slots ${entries.map(([k, v]) => `${k}=${v}`).join(' ')}`;
}
