import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const script = resolve(root, 'scripts/build-whisper.mjs');

function dryRun(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [script, '--dry-run', '--force', ...args],
      { cwd: root, timeout: 30_000 },
      (err, stdout, stderr) =>
        done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('scripts/build-whisper.mjs (dry run: prints the commands, builds nothing)', () => {
  it('uses -march=x86-64-v3 exactly when the CPU has AVX2', async () => {
    const avx2 = process.arch === 'x64' && /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    const { code, out } = await dryRun();
    expect(code).toBe(0);
    expect(out).toContain('node-gyp');
    expect(out.includes("CFLAGS='-march=x86-64-v3 -DNDEBUG'")).toBe(avx2);
  });

  it('--portable builds without CPU-specific flags', async () => {
    const { code, out } = await dryRun('--portable');
    expect(code).toBe(0);
    expect(out).not.toContain('-march');
    expect(out).toMatch(/would build smart-whisper [\d.]+ \(portable -DNDEBUG\)/);
  });

  it.skipIf(!existsSync('/usr/local/cuda/bin/nvcc'))(
    '--cuda builds whisper.cpp with GGML_CUDA=1 and links it through BYOL',
    async () => {
      const { code, out } = await dryRun('--cuda');
      expect(code).toBe(0);
      expect(out).toMatch(/GGML_CUDA='1' .*make -j \d+ libwhisper\.a/);
      expect(out).toMatch(/BYOL='\S+\/libwhisper\.a -L\S+ .*-lcuda -lcublas .*-lcudart/);
    },
  );
});
