import { cpus, loadavg } from 'node:os';
import { SMOKE } from './smoke.js';

const CORES = cpus().length;

/**
 * Prints one bench figure as a JSON line (the format bench/run.ts forwards). Every figure carries the machine's
 * 1-minute load average and core count when it was printed: on a shared machine the load is part of the figure.
 */
export function figure(
  bench: string,
  metric: string,
  value: number,
  unit: string,
  extra: Record<string, unknown> = {},
): void {
  const rounded = Number.isInteger(value) ? value : Number(value.toPrecision(4));
  const machine = { cpus: CORES, load1m: Number(loadavg()[0]!.toFixed(2)) };
  console.log(
    JSON.stringify({ bench, metric, value: rounded, unit, ...machine, ...extra, ...(SMOKE ? { smoke: true } : {}) }),
  );
}

/** Percentile of an unsorted sample (nearest rank); 0 for an empty one. */
export function percentile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(n - 1, Math.floor(q * n))]!;
}
