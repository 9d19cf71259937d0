/**
 * The bench report (`npm run bench -- --report [name ...]`): bench/report/figures.jsonl (every figure line of the
 * latest run of each bench), runs.json (per bench: date, commit, machine, `uptime` before and after), SVG charts
 * drawn from those lines, and summary.md (the headline figures with their sample counts and load). Benches not
 * re-run keep their previous lines, so a report can be refreshed one bench at a time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { cdf, lineChart, type Series } from './svg.js';

export interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  load1m?: number;
  [key: string]: unknown;
}

export interface BenchRun {
  date: string;
  commit: string;
  machine: string;
  node: string;
  uptimeBefore: string;
  uptimeAfter: string;
  ok: boolean;
}

export function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`;
  }
}

export function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

export function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function readJsonl(path: string): Figure[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Figure);
}

const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

function turnLatencyCdf(figs: Figure[], subtitle: string): string | null {
  const series: Series[] = figs
    .filter((f) => f.bench === 'turn-latency' && Array.isArray(f.samples) && (f.samples as number[]).length > 0)
    .map((f) => ({
      name: `${String(f.edge)}, ${String(f.calls)} call${f.calls === 1 ? '' : 's'} (${(f.samples as number[]).length})`,
      points: cdf(f.samples as number[]),
    }));
  if (series.length === 0) return null;
  return lineChart({
    title: 'Turn latency at each edge (CDF)',
    subtitle,
    xLabel: 'last voiced caller frame → first audible bot frame at the caller, ms',
    yLabel: 'fraction of turns',
    series,
    yMin: 0,
    yMax: 1,
    vLines: [{ x: 1000, label: '1 s' }],
  });
}

function concurrencyChart(figs: Figure[], subtitle: string): string | null {
  const byShape = new Map<string, Array<[number, number]>>();
  for (const f of figs) {
    if (f.bench !== 'asterisk-concurrency' || !/^turn_latency_p95_/.test(f.metric)) continue;
    const shape = String(f.whisperShape);
    byShape.set(shape, [...(byShape.get(shape) ?? []), [num(f.n), f.value]]);
  }
  if (byShape.size === 0) return null;
  return lineChart({
    title: 'Turn latency p95 vs concurrent calls (Asterisk edge)',
    subtitle,
    xLabel: 'concurrent calls',
    yLabel: 'p95 turn latency, ms',
    series: [...byShape].map(([shape, points]) => ({
      name: `${shape} shape`,
      points: points.sort((a, b) => a[0] - b[0]),
    })),
    hLines: [{ y: 1000, label: 'held if ≤ 1000 ms' }],
    yMin: 0,
  });
}

/** Send-time lateness vs streams: MediaLink (the real Asterisk path) clean and impaired; the old bench chain if no MediaLink run. */
function mediaChart(figs: Figure[], subtitle: string): string | null {
  const pick = (bench: string, metric: string, value: (f: Figure) => number = (f) => f.value) =>
    figs
      .filter((f) => f.bench === bench && f.metric === metric)
      .map((f): [number, number] => [num(f.streams), value(f)])
      .sort((a, b) => a[0] - b[0]);
  const link = pick('media-link', 'send_late_p99_ms_clean');
  const series = link.length
    ? [
        { name: 'p99 clean', points: link },
        { name: 'p99 impaired', points: pick('media-link', 'send_late_p99_ms_impaired') },
        { name: 'p50 clean', points: pick('media-link', 'send_late_p99_ms_clean', (f) => num(f.p50)) },
      ]
    : [
        { name: 'p99', points: pick('media', 'pacer_late_p99_ms') },
        { name: 'p50', points: pick('media', 'pacer_late_p50_ms') },
      ];
  if (series[0]!.points.length === 0) return null;
  const sched = figs.find((f) => f.bench === 'media-link' && typeof f.sched === 'string')?.sched;
  return lineChart({
    title: link.length
      ? 'Media plane (MediaLink): send-time lateness vs streams'
      : 'Media plane: send-time lateness vs streams',
    subtitle: link.length && sched ? `${subtitle}, scheduling ${String(sched)}` : subtitle,
    xLabel: 'concurrent bidirectional RTP streams',
    yLabel: 'send time minus slot, ms',
    series,
    hLines: [{ y: 2, label: 'p99 target 2 ms' }],
    yMin: 0,
  });
}

/** Headline lines for summary.md: every figure with its sample count and load, grouped by bench. */
function summary(figs: Figure[], runs: Record<string, BenchRun>): string {
  const lines = [
    '# Bench report',
    '',
    'Generated by `npm run bench -- --report`. One row per figure; raw lines in figures.jsonl.',
    '',
  ];
  const benches = [...new Set(figs.map((f) => f.bench))].sort();
  for (const b of benches) {
    const r = runs[b];
    lines.push(`## ${b}`, '');
    if (r)
      lines.push(
        `${r.date}, commit ${r.commit}, ${r.machine}, Node ${r.node}. \`uptime\` before: ${r.uptimeBefore}; after: ${r.uptimeAfter}.`,
        '',
      );
    lines.push('| metric | value | samples | load (1 min) | detail |', '| --- | --- | --- | --- | --- |');
    for (const f of figs.filter((x) => x.bench === b)) {
      const samples =
        num(f.turns) ||
        num(f.requests) ||
        num(f.frames) ||
        (Array.isArray(f.samples) ? f.samples.length : num(f.samples));
      const detail = [
        'edge',
        'calls',
        'n',
        'streams',
        'whisperShape',
        'p50',
        'p95',
        'p99',
        'failedTurns',
        'held',
        'stopped',
        'sched',
        'leaseMs',
        'crashes',
      ]
        .filter((k) => f[k] !== undefined)
        .map((k) => `${k}=${typeof f[k] === 'string' ? f[k] : JSON.stringify(f[k])}`)
        .join(', ');
      lines.push(
        `| ${f.metric} | ${f.value} ${f.unit} | ${Number.isFinite(samples) ? samples : ''} | ${f.load1m ?? ''} | ${detail} |`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** Merges the new figures (replacing those benches' old lines) and rewrites every report file. */
export function writeReport(dir: string, fresh: Map<string, { figures: Figure[]; run: BenchRun }>): void {
  mkdirSync(dir, { recursive: true });
  const jsonl = join(dir, 'figures.jsonl');
  const runsPath = join(dir, 'runs.json');
  const runs = existsSync(runsPath) ? (JSON.parse(readFileSync(runsPath, 'utf8')) as Record<string, BenchRun>) : {};
  const kept = readJsonl(jsonl).filter((f) => !fresh.has(f.bench));
  const figs = [...kept, ...[...fresh.values()].flatMap((x) => x.figures)];
  for (const [bench, { run }] of fresh) runs[bench] = run;
  writeFileSync(jsonl, figs.map((f) => JSON.stringify(f)).join('\n') + '\n');
  writeFileSync(runsPath, `${JSON.stringify(runs, null, 2)}\n`);
  const sub = (bench: string) => {
    const r = runs[bench];
    return r
      ? `${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.split(',')[0]}, ${r.uptimeBefore.replace(/.*load average/, 'load')}`
      : '';
  };
  const charts: Array<[string, string | null]> = [
    ['turn-latency-cdf.svg', turnLatencyCdf(figs, sub('turn-latency'))],
    ['concurrency-p95.svg', concurrencyChart(figs, sub('asterisk-concurrency'))],
    ['media-lateness.svg', mediaChart(figs, sub(figs.some((f) => f.bench === 'media-link') ? 'media-link' : 'media'))],
  ];
  for (const [name, svg] of charts) if (svg) writeFileSync(join(dir, name), svg);
  writeFileSync(join(dir, 'summary.md'), summary(figs, runs));
}
