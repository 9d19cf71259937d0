/**
 * Test doubles for the speech ports and `createTestDeps`, usable by every concern's tests.
 * Nothing here touches a model, a process or the network.
 */
import type { ConfigInput } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { CallEventBus, type CallEvent } from '../core/call-events.js';
import type { CallRecordSink } from '../core/call-record.js';
import { createMetrics } from '../core/metrics.js';
import { createLogger, type Logger } from '../log/logger.js';
import { MemorySessionStore } from '../session/memory-store.js';
import type { Asr, Tts, VadFactory } from '../speech/types.js';
import type { CallCoreDeps } from './call-core.js';
import { EnergyVadFactory } from './testing/fake-vad.js';
import { MemoryRecordSink } from './testing/memory-records.js';
import { ScriptedAsr, type ScriptedUtterance } from './testing/scripted-asr.js';
import { ToneTts } from './testing/tone-tts.js';

export { ScriptedAsr, type ScriptedUtterance } from './testing/scripted-asr.js';
export { EnergyVadFactory, ScriptedVadFactory } from './testing/fake-vad.js';
export { ToneTts } from './testing/tone-tts.js';
export { MemoryRecordSink } from './testing/memory-records.js';

export interface TestDepsOverrides {
  /** config layered over the defaults (same shape as the YAML) */
  config?: ConfigInput | Record<string, unknown>;
  /** YAML file loaded first */
  configFile?: string;
  asrScript?: ScriptedUtterance[];
  asr?: Asr;
  tts?: Tts;
  vad?: VadFactory;
  records?: CallRecordSink;
  sessions?: CallCoreDeps['sessions'];
  nlu?: CallCoreDeps['nlu'];
  logger?: Logger;
  /** the call's timer clock (default: the system clock) */
  clock?: CallCoreDeps['clock'];
}

export interface TestDeps extends CallCoreDeps {
  /** every CallEvent published, in order */
  published: CallEvent[];
}

/** A CallCoreDeps with in-memory everything: scripted ASR, tone TTS, energy VAD, memory sinks. */
export function createTestDeps(overrides: TestDepsOverrides = {}): TestDeps {
  const config = loadConfig({
    file: overrides.configFile,
    env: {},
    overrides: (overrides.config ?? {}) as Record<string, unknown>,
  });
  const events = new CallEventBus();
  const published: CallEvent[] = [];
  events.subscribe((e) => published.push(e));
  const v = config.speech.vad;
  const deps: TestDeps = {
    config,
    logger: overrides.logger ?? createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false }),
    vad:
      overrides.vad ??
      new EnergyVadFactory({
        minSpeechMs: Math.min(v.minSpeechMs, 60),
        endOfTurnSilenceMs: Math.min(v.endOfTurnSilenceMs, 300),
        interruptionMs: v.interruptionMs,
        preRollMs: Math.min(v.preRollMs, 100),
      }),
    asr: overrides.asr ?? new ScriptedAsr(overrides.asrScript ?? []),
    tts: overrides.tts ?? new ToneTts(),
    records: overrides.records ?? new MemoryRecordSink(),
    sessions: overrides.sessions ?? new MemorySessionStore(config.session.ttlSeconds),
    events,
    metrics: createMetrics(false),
    published,
  };
  if (overrides.nlu) deps.nlu = overrides.nlu;
  if (overrides.clock) deps.clock = overrides.clock;
  return deps;
}
