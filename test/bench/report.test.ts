import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeReport, type BenchRun, type Figure } from '../../bench/lib/report.js';
import { ticks } from '../../bench/lib/svg.js';

const run: BenchRun = {
  date: '2026-12-05T01:00:00.000Z',
  commit: 'abc1234',
  machine: '2 × Test CPU, 8 GiB',
  node: '20.0.0',
  uptimeBefore: 'up 1 min, load average: 1.50, 1.00, 0.50',
  uptimeAfter: 'up 2 min, load average: 1.60, 1.10, 0.60',
  ok: true,
};
const fig = (bench: string, metric: string, value: number, extra: Record<string, unknown> = {}): Figure => ({
  bench,
  metric,
  value,
  unit: 'ms',
  load1m: 1.5,
  cpus: 2,
  ...extra,
});

describe('bench report (bench/lib/report.ts)', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes figures, runs, one chart per figure family and a summary with load; a partial re-run keeps the rest', () => {
    dir = mkdtempSync(join(tmpdir(), 'vb-report-'));
    writeReport(
      dir,
      new Map([
        [
          'turn-latency',
          {
            figures: [
              fig('turn-latency', 'turn_latency_p95_asterisk_1call', 900, {
                edge: 'asterisk',
                calls: 1,
                turns: 3,
                samples: [500, 700, 900],
              }),
            ],
            run,
          },
        ],
        [
          'asterisk-concurrency',
          {
            figures: [
              fig('asterisk-concurrency', 'turn_latency_p95_tiny.en_n1', 600, { n: 1, whisperShape: 'tiny.en' }),
              fig('asterisk-concurrency', 'turn_latency_p95_tiny.en_n2', 800, { n: 2, whisperShape: 'tiny.en' }),
            ],
            run,
          },
        ],
        ['media', { figures: [fig('media', 'pacer_late_p99_ms', 1.2, { streams: 100 })], run }],
      ]),
    );
    const cdf = readFileSync(join(dir, 'turn-latency-cdf.svg'), 'utf8');
    expect(cdf).toContain('asterisk, 1 call (3)');
    // three samples: the CDF steps at 1/3, 2/3 and 1
    expect(cdf.match(/<circle /g)).toHaveLength(3);
    expect(readFileSync(join(dir, 'concurrency-p95.svg'), 'utf8')).toContain('tiny.en shape');
    expect(readFileSync(join(dir, 'media-lateness.svg'), 'utf8')).toContain('p99 target 2 ms');
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(summary).toContain('load average: 1.50, 1.00, 0.50');
    expect(summary).toContain('| turn_latency_p95_asterisk_1call | 900 ms | 3 | 1.5 |');

    writeReport(dir, new Map([['media', { figures: [fig('media', 'pacer_late_p99_ms', 3, { streams: 200 })], run }]]));
    const lines = readFileSync(join(dir, 'figures.jsonl'), 'utf8').trim().split('\n');
    const benches = lines.map((l) => (JSON.parse(l) as Figure).bench);
    expect(benches.filter((b) => b === 'media')).toHaveLength(1);
    expect(benches.filter((b) => b === 'asterisk-concurrency')).toHaveLength(2);
    expect(lines.some((l) => l.includes('"streams":200'))).toBe(true);
  });

  it('charts MediaLink lateness (clean and impaired) over the old chain, naming the scheduling policy', () => {
    dir = mkdtempSync(join(tmpdir(), 'vb-report-'));
    const link = (metric: string, streams: number, value: number) =>
      fig('media-link', metric, value, { streams, p50: 0.3, sched: 'rr', frames: 1000 });
    writeReport(
      dir,
      new Map([
        ['media', { figures: [fig('media', 'pacer_late_p99_ms', 9, { streams: 100 })], run }],
        [
          'media-link',
          {
            figures: [
              link('send_late_p99_ms_clean', 100, 0.9),
              link('send_late_p99_ms_clean', 500, 3.5),
              link('send_late_p99_ms_impaired', 100, 1.1),
            ],
            run,
          },
        ],
      ]),
    );
    const svg = readFileSync(join(dir, 'media-lateness.svg'), 'utf8');
    expect(svg).toContain('MediaLink');
    expect(svg).toContain('p99 impaired');
    expect(svg).toContain('scheduling rr');
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain(
      '| send_late_p99_ms_clean | 3.5 ms | 1000 | 1.5 | streams=500, p50=0.3, sched=rr |',
    );
  });

  it('takeover figures say which lease length and how many crashes each row is (one run measures several)', () => {
    dir = mkdtempSync(join(tmpdir(), 'vb-report-'));
    const crash = (leaseMs: number, value: number) =>
      fig('takeover', 'crash_to_bot_audio_p95', value, { leaseMs, crashes: 20, samples: 120 });
    writeReport(dir, new Map([['takeover', { figures: [crash(1000, 1400), crash(3000, 3300)], run }]]));
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(summary).toContain('| crash_to_bot_audio_p95 | 1400 ms | 120 | 1.5 | leaseMs=1000, crashes=20 |');
    expect(summary).toContain('| crash_to_bot_audio_p95 | 3300 ms | 120 | 1.5 | leaseMs=3000, crashes=20 |');
  });

  it('axis ticks are round steps covering the range', () => {
    expect(ticks(0, 1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});
