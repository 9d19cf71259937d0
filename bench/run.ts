/**
 * Bench harness (`npm run bench [name ...]`): runs each bench/*.bench.ts (or the named ones) as its own process,
 * one after the other, forwards the JSON figure lines to stdout (anything else goes to stderr) and exits
 * non-zero if any bench fails or prints no figure.
 *
 *   --smoke   every bench in its seconds-long mode (BENCH_SMOKE=1): checks they run, measures nothing
 *   --report  also writes bench/report/ (figures.jsonl, runs.json, SVG charts, summary.md; see lib/report.ts)
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { commit, machine, uptime, writeReport, type BenchRun, type Figure } from './lib/report.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPORT_DIR = join(BENCH_DIR, 'report');
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

interface Result {
  ok: boolean;
  figures: Figure[];
  reason?: string;
}

function runOne(file: string, opts: Options): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: resolve(BENCH_DIR, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...(opts.smoke ? { BENCH_SMOKE: '1' } : {}) },
    });
    const figures: Figure[] = [];
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const trimmed = line.trim();
      if (trimmed.startsWith('{')) {
        try {
          const fig = JSON.parse(trimmed) as Figure;
          if (typeof fig.bench === 'string' && typeof fig.metric === 'string') {
            figures.push(fig);
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
      if (code === 0 && figures.length > 0) done({ ok: true, figures });
      else
        done({
          ok: false,
          figures,
          reason: signal ? `killed by ${signal}` : `exit ${code}, ${figures.length} figures`,
        });
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const opts: Options = { smoke: args.includes('--smoke') };
  const report = args.includes('--report');
  const fresh = new Map<string, { figures: Figure[]; run: BenchRun }>();
  const files = await selectBenches(args.filter((a) => !a.startsWith('--')));
  let failed = 0;
  for (const file of files) {
    const started = Date.now();
    process.stderr.write(`# bench ${basename(file)}\n`);
    const before = uptime();
    const result = await runOne(file, opts);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const run: BenchRun = {
      date: new Date(started).toISOString(),
      commit: commit(),
      machine: machine(),
      node: process.versions.node,
      uptimeBefore: before,
      uptimeAfter: uptime(),
      ok: result.ok,
    };
    // a failed bench keeps its previous report lines: a report quotes only complete runs
    if (result.ok) fresh.set(basename(file).replace(/\.bench\.ts$/, ''), { figures: result.figures, run });
    if (result.ok) process.stderr.write(`# ${basename(file)}: ok, ${result.figures.length} figures, ${secs} s\n`);
    else {
      failed++;
      process.stderr.write(`# ${basename(file)}: FAILED (${result.reason}) after ${secs} s\n`);
    }
  }
  if (report && !opts.smoke) {
    writeReport(REPORT_DIR, fresh);
    process.stderr.write(`# report written to ${REPORT_DIR}\n`);
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
