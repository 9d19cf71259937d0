import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

// Built from parts so this file does not match itself.
const OUTSIDE = ['..', 'shared'].join('/');
const ROOTS = [
  'src',
  'test',
  'bench',
  'scripts',
  'jambonz-adapter',
  '.ci',
  'docs',
  'examples',
  'package.json',
  'vitest.config.ts',
  'README.md',
];
const TEXT = /\.(ts|mts|js|mjs|cjs|json|sh|yaml|yml|md)$|^run$/;

function* files(path: string): Generator<string> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isFile()) {
    yield path;
    return;
  }
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'fixtures') continue;
    yield* files(join(path, entry));
  }
}

describe('the repository stands alone', () => {
  it(`no source, test, bench, script, CI or documentation file reads ${OUTSIDE}`, () => {
    const scanned: string[] = [];
    const offenders: string[] = [];
    for (const root of ROOTS) {
      for (const file of files(join(REPO_ROOT, root))) {
        const name = file.split('/').pop() ?? '';
        if (!TEXT.test(name)) continue;
        scanned.push(file);
        if (readFileSync(file, 'utf8').includes(OUTSIDE)) offenders.push(relative(REPO_ROOT, file));
      }
    }
    expect(scanned.length).toBeGreaterThan(100);
    expect(offenders).toEqual([]);
  });
});
