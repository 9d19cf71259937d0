import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

const run = promisify(execFile);

/**
 * Item 2 (memory): each call holds a native Silero session (~10 MB of ONNX runtime memory). sherpa-onnx-node frees
 * one only when V8 happens to collect its JS handle, and V8 does not know that memory exists, so sessions dropped
 * beyond the old idle pool of 64 piled up (12 GB after two floods). Now no session is ever dropped: the pool is
 * bounded by the concurrent-call cap and reused, so memory after any number of calls is memory at the cap.
 */
describe('native VAD memory is bounded by the concurrent-call cap', () => {
  it('500 calls in bursts above the old pool of 64: native sessions and RSS come back to the first burst', async () => {
    const cap = 72; // above the old idle pool (64): bursts of this size leaked 8 sessions each before
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join('test', 'security', 'vad-bursts.ts'), String(cap), '500'],
      { cwd: REPO_ROOT, timeout: 140_000 },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      calls: number;
      baselineMb: number;
      afterMb: number;
      poolSize?: number;
      inUse?: number;
    };
    expect(r.calls).toBe(500);
    // every burst reused the sessions of the first: no new native memory (one session is ~10 MB)
    expect(r.afterMb - r.baselineMb).toBeLessThan(30);
    expect(r.poolSize).toBe(cap);
    expect(r.inUse).toBe(0);
  }, 150_000); // building 72 ONNX sessions takes seconds each on a loaded host
});
