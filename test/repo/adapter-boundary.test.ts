import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { CallLegBase } from '../../src/telephony/call-leg-base.js';
import { JambonzCallLeg } from '../../jambonz-adapter/src/call-leg.js';

const ADAPTER = join(REPO_ROOT, 'jambonz-adapter');
const SRC = join(REPO_ROOT, 'src');
/** import/export … from '…', import('…'), import '…' */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

interface PackageJson {
  name: string;
  workspaces?: string[];
  exports?: Record<string, { types: string; default: string }>;
  dependencies?: Record<string, string>;
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

describe('jambonz-adapter is a workspace package on the public entry points', () => {
  const root = readJson(join(REPO_ROOT, 'package.json'));
  const adapter = readJson(join(ADAPTER, 'package.json'));

  it('imports nothing from src/ by path, only voicebot/* entry points the root package exports', () => {
    const deep: string[] = [];
    const unexported: string[] = [];
    let entryImports = 0;
    for (const file of tsFiles(ADAPTER)) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        const where = `${relative(REPO_ROOT, file)}: ${spec}`;
        if (spec!.startsWith('.') && resolve(file, '..', spec!).startsWith(SRC)) deep.push(where);
        if (spec === 'voicebot' || spec!.startsWith('voicebot/')) {
          entryImports++;
          if (!root.exports?.[`./${spec!.slice('voicebot/'.length)}`]) unexported.push(where);
        }
      }
    }
    expect(deep).toEqual([]);
    expect(unexported).toEqual([]);
    expect(entryImports).toBeGreaterThan(10); // the scan saw the adapter's real imports
  });

  it('is a workspace of the root package and depends on it, which exports each entry point built and typed', () => {
    expect(root.workspaces).toContain('jambonz-adapter');
    expect(adapter.dependencies?.voicebot).toBe('file:..');
    const entries = Object.entries(root.exports ?? {});
    expect(entries.length).toBeGreaterThan(3);
    for (const [key, target] of entries) {
      const name = key.slice(2);
      expect(target).toEqual({ types: `./dist/src/${name}/index.d.ts`, default: `./dist/src/${name}/index.js` });
      // the source the entry point is built from (tsconfig "paths" and the test alias resolve here while developing)
      expect(readFileSync(join(SRC, name, 'index.ts'), 'utf8')).toMatch(/^export /m);
    }
  });

  it('the image installs the workspace: the Dockerfile copies its manifest before npm ci', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const ci = dockerfile.indexOf('RUN npm ci');
    expect(ci).toBeGreaterThan(0);
    for (const workspace of root.workspaces ?? []) {
      const copy = dockerfile.indexOf(`COPY ${workspace}/package.json ./${workspace}/`);
      expect(copy, `${workspace}/package.json copied`).toBeGreaterThan(0);
      expect(copy).toBeLessThan(ci);
    }
  });

  it('the adapter and the core share one module graph under test (no second copy of the core from dist/)', () => {
    expect(Object.getPrototypeOf(JambonzCallLeg)).toBe(CallLegBase);
  });
});
