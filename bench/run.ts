/**
 * Bench harness (`npm run bench [name ...]`): runs each bench/*.bench.ts (or the named ones) as its own process,
 * one after the other, forwards the JSON figure lines to stdout (anything else goes to stderr) and exits
 * non-zero if any bench fails or prints no figure.
 *
 *   --smoke   every bench in its seconds-long mode (BENCH_SMOKE=1): checks they run, measures nothing
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** Only stops a hung bench: the edge sweeps take tens of minutes on 2 cores, a smoke run seconds. */
const TIMEOUT_MS = (smoke: boolean) => Number(process.env.BENCH_TIMEOUT_MS ?? (smoke ? 180_000 : 3_600_000));

async function selectBenches(names: string[]): Promise<string[]> {
  const all = (await readdir(BENCH_DIR)).filter((f) => f.endsWith('.bench.ts')).sort();
  if (names.length === 0) return all.map((f) => join(BENCH_DIR, f));
  return names.map((name) => {
    const file = all.find((f) => f === name || f === `${name}.bench.ts` || f === basename(name));
    if (!file) throw new Error(`no bench named ${JSON.stringify(name)} (have: ${all.join(', ')})`);
    return join(BENCH_DIR, file);
  });
}

interface Options {
  smoke: boolean;
}

function runOne(file: string, opts: Options): Promise<{ ok: boolean; figures: number; reason?: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: resolve(BENCH_DIR, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...(opts.smoke ? { BENCH_SMOKE: '1' } : {}) },
    });
    let figures = 0;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const trimmed = line.trim();
      if (trimmed.startsWith('{')) {
        try {
          const fig = JSON.parse(trimmed) as Record<string, unknown>;
          if (typeof fig.bench === 'string' && typeof fig.metric === 'string') {
            figures++;
            process.stdout.write(`${JSON.stringify(fig)}\n`);
            return;
          }
        } catch {
          // not a figure: falls through to stderr
        }
      }
      process.stderr.write(`${line}\n`);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS(opts.smoke));
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ ok: false, figures, reason: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && figures > 0) done({ ok: true, figures });
      else done({ ok: false, figures, reason: signal ? `killed by ${signal}` : `exit ${code}, ${figures} figures` });
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const opts: Options = { smoke: args.includes('--smoke') };
  const files = await selectBenches(args.filter((a) => !a.startsWith('--')));
  let failed = 0;
  for (const file of files) {
    const started = Date.now();
    process.stderr.write(`# bench ${basename(file)}\n`);
    const result = await runOne(file, opts);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (result.ok) process.stderr.write(`# ${basename(file)}: ok, ${result.figures} figures, ${secs} s\n`);
    else {
      failed++;
      process.stderr.write(`# ${basename(file)}: FAILED (${result.reason}) after ${secs} s\n`);
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
