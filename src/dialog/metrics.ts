import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../core/metrics.js';

/** The conversation engine's series on the app registry (get-or-create, so calls share them). */
export function dialogMetrics(registry: Registry) {
  return {
    activeCalls: gauge(registry, 'voicebot_dialog_active_calls', 'Calls the conversation engine is running'),
    calls: counter(registry, 'voicebot_dialog_calls_total', 'Calls ended, by outcome', ['outcome']),
    turns: counter(registry, 'voicebot_dialog_turns_total', 'Caller turns handled, by NLU source', ['source']),
    bargeIns: counter(registry, 'voicebot_dialog_barge_ins_total', 'Bot prompts cut short by the caller'),
    suspectedEcho: counter(
      registry,
      'voicebot_dialog_suspected_echo_total',
      "Stretches of the bot's own echo (speech-level, 100 ms or more) kept from the VAD",
    ),
    falseInterruptions: counter(
      registry,
      'voicebot_dialog_false_interruptions_total',
      'Barge-ins that turned out to be no speech (noise, echo), by whether the cut prompt was resumed',
      ['resumed'],
    ),
    // hand-overs between processes: a detach leaves the call up for another instance, a resume picks one up
    detached: counter(
      registry,
      'voicebot_dialog_calls_detached_total',
      'Calls this process stopped serving without ending them (drain, ApplicationReplaced, lease lost)',
    ),
    resumed: counter(
      registry,
      'voicebot_dialog_calls_resumed_total',
      'Calls taken over from the session store (a detached call, or one whose process died) instead of greeted',
    ),
    escalations: counter(registry, 'voicebot_dialog_escalations_total', 'Escalations to a person, by reason', [
      'reason',
    ]),
    transfers: counter(registry, 'voicebot_dialog_transfers_total', 'Transfer outcomes', ['outcome']),
    nluFallbacks: counter(registry, 'voicebot_dialog_nlu_fallbacks_total', 'LLM failures answered by the rules', [
      'reason',
    ]),
    droppedFrames: counter(registry, 'voicebot_dialog_dropped_frames_total', 'Caller frames dropped', ['reason']),
    discardedUtterances: counter(
      registry,
      'voicebot_dialog_discarded_utterances_total',
      'Caller speech ignored (empty ASR, noise during a prompt, ASR error)',
      ['reason'],
    ),
    errors: counter(registry, 'voicebot_dialog_errors_total', 'Errors inside the call core, by stage', ['stage']),
    responseLatency: histogram(
      registry,
      'voicebot_dialog_response_seconds',
      'End of caller speech to the first reply audio sent to the leg',
      [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
    ),
    turnStages: histogram(
      registry,
      'voicebot_turn_stage_seconds',
      'Time per stage of an answered caller turn: endpointing (VAD end), asr, nlu, tts (to first audio), playout',
      [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
      ['stage'],
    ),
  };
}
export type DialogMetrics = ReturnType<typeof dialogMetrics>;
