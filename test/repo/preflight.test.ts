import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

const run = promisify(execFile);
const PREFLIGHT = join(REPO_ROOT, 'scripts', 'preflight.mjs');
const LIST = JSON.parse(readFileSync(join(REPO_ROOT, 'scripts', 'system-packages.json'), 'utf8')) as {
  packages: Array<{ programs: string[]; apt: string; phase: string; optional?: boolean }>;
};

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A PATH holding only stand-ins for `present`: everything else is missing. */
function pathWith(present: string[]): string {
  dir = mkdtempSync(join(tmpdir(), 'voicebot-preflight-'));
  for (const name of present) {
    writeFileSync(join(dir, name), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

async function preflight(path: string, args: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [PREFLIGHT, ...args], { env: { PATH: path }, cwd: REPO_ROOT });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('npm test preflight (scripts/preflight.mjs)', () => {
  it('stops before the tests when a program is missing, naming it and the one install line', async () => {
    const r = await preflight(pathWith(['espeak-ng', 'chromium', 'docker-compose', 'envsubst'])); // no redis-server
    expect(r.code).toBe(1);
    expect(r.out).toContain('- redis-server: the Redis session store');
    expect(r.out).not.toContain('- espeak-ng');
    expect(r.out).toContain('Debian/Ubuntu: sudo apt-get install -y redis-server\n');
    expect(r.out).toContain('macOS:         brew install redis\n');
  });

  it('lists every missing program of the test phase in one apt-get line and one brew line', async () => {
    const r = await preflight(pathWith([]));
    expect(r.code).toBe(1);
    const testPkgs = LIST.packages.filter((p) => p.phase === 'test');
    expect(testPkgs.length).toBeGreaterThanOrEqual(3);
    expect(r.out).toContain(`sudo apt-get install -y ${testPkgs.map((p) => p.apt).join(' ')}\n`);
    expect(r.out).toContain('brew install --cask chromium');
  });

  it('passes quietly when everything is there, and only warns about an optional program', async () => {
    const all = LIST.packages.filter((p) => p.phase === 'test').map((p) => p.programs[0]!);
    expect(await preflight(pathWith(all))).toEqual({ code: 0, out: '' });
    const r = await preflight(pathWith(all.filter((p) => p !== 'docker-compose')));
    expect(r.code).toBe(0);
    expect(r.out).toContain('optional, missing (some tests are skipped):\n  - docker-compose');
  });

  it('is the first step of npm test, and .ci/run installs from the same list', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { test: string } };
    expect(pkg.scripts.test.startsWith('node scripts/preflight.mjs && ')).toBe(true);
    expect(readFileSync(join(REPO_ROOT, '.ci', 'run'), 'utf8')).toContain('node scripts/preflight.mjs --apt-missing');
  });

  it('--apt-missing prints the apt names of every missing package, install phase included', async () => {
    const r = await preflight(pathWith(['make', 'g++', 'python3', 'redis-server', 'chromium']), ['--apt-missing']);
    expect(r).toEqual({ code: 0, out: 'espeak-ng docker-compose gettext-base\n' });
  });
});
