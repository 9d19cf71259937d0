import { EventEmitter } from 'node:events';
import { whenAborted } from '../core/waiters.js';
import type { Logger } from '../log/logger.js';
import type { Asr, VadFactory } from '../speech/types.js';
import type { CallLeg, Party } from '../telephony/port.js';
import { AudioInput, type AudioSource } from './audio-input.js';
import type { CallContext } from './call-context.js';
import type { DialogMetrics } from './metrics.js';

export interface AfterHandOffParts {
  leg: CallLeg;
  ctx: CallContext;
  vad: VadFactory;
  asr: Asr;
  logger: Logger;
  metrics: DialogMetrics;
  preRollMs: number;
  minSpeechMs: number;
  asrTimeoutMs: number;
  /** resolves when the leg has hung up (the call is over for everyone) */
  legGone: Promise<unknown>;
  /** the call's signal: shutdown ends the listening too */
  signal: AbortSignal;
}

const PARTIES: readonly Party[] = ['caller', 'agent'];

/**
 * telephony.agentStaysSilent, after the answer: the bot says nothing and takes no turns, but each person's words
 * go into the call's transcript under their own label, one VAD + recogniser per party (the backend keeps the two
 * streams apart), until the call ends. The call's end record is written after this returns.
 */
export async function transcribeAfterHandOff(p: AfterHandOffParts): Promise<void> {
  const sources = new Map(PARTIES.map((party) => [party, new PartySource(p.leg.inputSampleRate)]));
  const onParty = (party: Party, frame: Int16Array) => sources.get(party)?.emit('audio', frame);
  const inputs = PARTIES.map(
    (party) =>
      new AudioInput({
        leg: sources.get(party)!,
        vad: p.vad.create(),
        asr: p.asr,
        logger: p.logger.child({ party }),
        metrics: p.metrics,
        signal: p.signal,
        preRollMs: p.preRollMs,
        minSpeechMs: p.minSpeechMs,
        asrTimeoutMs: p.asrTimeoutMs,
        hooks: {
          clockMs: () => p.ctx.elapsedMs(),
          // the caller's stream drives the call clock, as before the hand-off (once, not per party)
          ...(party === 'caller' ? { onAudio: (ms: number) => p.ctx.addAudio(ms) } : {}),
          activePrompt: () => null,
          onInterruption: () => undefined,
          onUtterance: (u) => {
            if (u.text.trim()) p.ctx.transcript.heard(party, u.text, u.confidence, u.atMs);
          },
        },
      }),
  );
  p.leg.on('party-audio', onParty);
  for (const input of inputs) input.start();
  p.logger.info('after the hand-off: transcribing the caller and the agent until the call ends');
  try {
    await Promise.race([p.legGone, whenAborted(p.signal)]);
  } finally {
    p.leg.off('party-audio', onParty);
    await Promise.all(inputs.map((input) => input.close()));
  }
}

/** One party's frames as an AudioSource. */
class PartySource extends EventEmitter implements AudioSource {
  constructor(readonly inputSampleRate: CallLeg['inputSampleRate']) {
    super();
  }
}
