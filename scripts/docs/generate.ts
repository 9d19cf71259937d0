/**
 * `npm run docs`: writes the generated references under docs/reference/ (configuration from the zod schema, the CLI
 * from commander, metrics from their declarations), formatted as prettier would. `--check` writes nothing and exits 1
 * naming each file that differs. test/repo/generated-docs.test.ts runs the same comparison.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import prettier from 'prettier';
import { cliReference } from './cli-reference.js';
import { configReference } from './config-reference.js';
import { metricsReference } from './metrics-reference.js';
import { REPO_ROOT } from './paths.js';

export const GENERATED: Record<string, () => string> = {
  'docs/reference/configuration.md': configReference,
  'docs/reference/cli.md': cliReference,
  'docs/reference/metrics.md': metricsReference,
};

/** The file as `npm run docs` would write it. */
export async function render(path: string): Promise<string> {
  const make = GENERATED[path];
  if (!make) throw new Error(`not a generated file: ${path}`);
  const file = join(REPO_ROOT, path);
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(make(), { ...options, filepath: file });
}

function committed(path: string): string | undefined {
  try {
    return readFileSync(join(REPO_ROOT, path), 'utf8');
  } catch {
    return undefined;
  }
}

async function main(check: boolean): Promise<number> {
  const stale: string[] = [];
  for (const path of Object.keys(GENERATED)) {
    const text = await render(path);
    if (committed(path) === text) continue;
    stale.push(path);
    if (!check) writeFileSync(join(REPO_ROOT, path), text);
  }
  if (check && stale.length > 0) {
    console.error(`out of date (run npm run docs): ${stale.join(', ')}`);
    return 1;
  }
  console.log(stale.length === 0 ? 'docs/reference is up to date' : `wrote ${stale.join(', ')}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.includes('--check'));
}
