import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { vadConfig } from '../../src/speech/config.js';
import { createVadFactory } from '../../src/speech/vad/silero.js';
import type { Vad } from '../../src/speech/types.js';
import { VAD_MODEL } from '../helpers/fixtures.js';

const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });
const rssMb = () => process.memoryUsage().rss / 1e6;

/**
 * Item 2 (memory): each call holds a native Silero session (~10 MB of ONNX runtime memory). sherpa-onnx-node frees
 * one only when V8 happens to collect its JS handle, and V8 does not know that memory exists, so sessions dropped
 * beyond the old idle pool of 64 piled up (12 GB after two floods). Now no session is ever dropped: the pool is
 * bounded by the concurrent-call cap and reused, so memory after any number of calls is memory at the cap.
 */
describe('native VAD memory is bounded by the concurrent-call cap', () => {
  it('500 calls in bursts above the old pool of 64: native sessions and RSS come back to the first burst', () => {
    const cap = 72; // above the old idle pool (64): bursts of this size leaked 8 sessions each before
    const metrics = new Registry();
    const factory = createVadFactory(
      vadConfig.parse({ modelPath: VAD_MODEL, prewarmSessions: 1 }),
      logger,
      metrics,
      cap,
    );
    const speech = new Int16Array(16_000).map((_, i) => Math.round(6000 * Math.sin(i / 5)));
    const burst = (n: number) => {
      const calls: Vad[] = Array.from({ length: n }, () => factory.create());
      for (const vad of calls) vad.push(speech); // every session really runs the model
      for (const vad of calls) vad.close();
    };

    burst(cap);
    const baselineMb = rssMb();
    let calls = cap;
    while (calls < 500) {
      const n = Math.min(cap, 500 - calls);
      burst(n);
      calls += n;
    }
    const afterMb = rssMb();

    expect(calls).toBe(500);
    // every burst reused the sessions of the first: no new native memory (one session is ~10 MB)
    expect(afterMb - baselineMb).toBeLessThan(30);
    expect(factory.pool.size).toBe(cap);
    expect(factory.pool.inUse).toBe(0);
  });
});
