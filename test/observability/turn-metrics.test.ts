/** voicebot_turn_stage_seconds: one observation per stage per answered turn, equal to the turn's own stage times. */
import { describe, expect, it } from 'vitest';
import { SUPPORT_LINE, startCall } from '../dialog/harness.js';

describe('turn stage histogram', () => {
  it('observes endpointing, asr, nlu, tts and playout once per answered turn, with the turn-latency values', async () => {
    const h = startCall({
      deps: { configFile: SUPPORT_LINE, asrScript: ["hi, where's my order", 'it is one two three double four'] },
    });
    const stageCounts = async () => {
      const m = await h.deps.metrics.getSingleMetric('voicebot_turn_stage_seconds')!.get();
      const counts: Record<string, number> = {};
      const sums: Record<string, number> = {};
      for (const v of m.values) {
        const name = (v as { metricName?: string }).metricName;
        if (name?.endsWith('_count')) counts[v.labels.stage as string] = v.value;
        if (name?.endsWith('_sum')) sums[v.labels.stage as string] = v.value;
      }
      return { counts, sums };
    };
    await h.untilListening();
    expect((await stageCounts()).counts).toEqual({}); // the greeting is not a turn
    await h.say();
    await h.say();
    h.leg.hangupByCaller();
    await h.done;
    const { counts, sums } = await stageCounts();
    expect(counts).toEqual({ endpointing: 2, asr: 2, nlu: 2, tts: 2, playout: 2 });
    const turns = h.events('turn-latency');
    expect(turns).toHaveLength(2);
    const total = (k: 'endpointingMs' | 'asrMs' | 'nluMs' | 'ttsMs') =>
      turns.reduce((s, t) => s + t.stages[k], 0) / 1000;
    expect(sums['endpointing']).toBeCloseTo(total('endpointingMs'), 6);
    expect(sums['asr']).toBeCloseTo(total('asrMs'), 6);
    expect(sums['nlu']).toBeCloseTo(total('nluMs'), 6);
    expect(sums['tts']).toBeCloseTo(total('ttsMs'), 6);
    expect(sums['playout']).toBeGreaterThan(0);
  });
});
