import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

/** `npm run bench -- --smoke` as CI runs it: every bench, seconds-long, must run and print well-formed figures. */
function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'run.ts'), '--smoke'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench smoke (no thresholds: it runs and its figures are well formed)', () => {
  it('runs every bench/*.bench.ts and each prints JSON figure lines with load and core count', async () => {
    const benches = readdirSync(join(REPO_ROOT, 'bench'))
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => f.replace(/\.bench\.ts$/, ''));
    const { code, stdout, stderr } = await runSmoke();
    expect(code, stderr.slice(-3000)).toBe(0);
    const lines = stdout.trim().split('\n');
    const figures = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const f of figures) {
      expect(typeof f.bench).toBe('string');
      expect(typeof f.metric).toBe('string');
      expect(typeof f.unit).toBe('string');
      expect(Number.isFinite(f.value)).toBe(true);
      expect(Number.isFinite(f.load1m)).toBe(true);
      expect(f.cpus).toBeGreaterThan(0);
      expect(f.smoke).toBe(true);
    }
    const seen = new Set(figures.map((f) => f.bench));
    expect(benches.length).toBeGreaterThan(5);
    for (const b of benches) expect([...seen], `bench ${b} printed no figure`).toContain(b);
  }, 420_000);
});
