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
  it('builds for the best instruction set the CPU has: x86-64-v4 with AVX-512, v3 with AVX2', async () => {
    const cpuinfo = process.arch === 'x64' ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const has = (f: string) => new RegExp(`\\b${f}\\b`).test(cpuinfo);
    const avx2 = has('avx2');
    const avx512 = avx2 && ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'].every(has);
    const { code, out } = await dryRun();
    expect(code).toBe(0);
    expect(out).toContain('node-gyp');
    expect(out.includes("CFLAGS='-march=x86-64-v4 -DNDEBUG'")).toBe(avx512);
    expect(out.includes("CFLAGS='-march=x86-64-v3 -DNDEBUG'")).toBe(avx2 && !avx512);
  });

  it('VOICEBOT_WHISPER_BUILD=avx2 pins the AVX2 build on an AVX-512 machine', async () => {
    const out = await new Promise<string>((done) =>
      execFile(
        process.execPath,
        [script, '--dry-run', '--force'],
        { cwd: root, timeout: 30_000, env: { ...process.env, VOICEBOT_WHISPER_BUILD: 'avx2' } },
        (_err, stdout, stderr) => done(stdout + stderr),
      ),
    );
    expect(out).toContain("CFLAGS='-march=x86-64-v3 -DNDEBUG'");
  });

  // a marker without `patch` comes from an older build script (the next npm install rebuilds it)
  const marker = resolve(root, 'node_modules/smart-whisper/build/voicebot-build.json');
  const markerHasPatch = existsSync(marker) && 'patch' in (JSON.parse(readFileSync(marker, 'utf8')) as object);
  it.skipIf(!markerHasPatch)(
    'the installed addon was built from the state-pool patched binding (one whisper state per concurrent request)',
    () => {
      const built = JSON.parse(readFileSync(marker, 'utf8')) as { patch?: string };
      const src = readFileSync(resolve(root, 'node_modules/smart-whisper/src/binding/transcribe.cc'), 'utf8');
      expect(built.patch).toBe('state-pool-v1');
      expect(src).toContain('state = state_pool_take(context);');
      expect(src).not.toContain('whisper_free_state(state);\n');
    },
  );

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
