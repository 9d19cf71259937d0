/**
 * Smoke mode (BENCH_SMOKE=1, `npm run bench -- --smoke`): every bench runs a seconds-long version of itself so a
 * test can check it still runs and prints well-formed figures. Figures from a smoke run say so (`smoke: true`)
 * and measure nothing worth quoting.
 */
export const SMOKE = process.env.BENCH_SMOKE === '1';

/** `full` normally, `smoke` in smoke mode. */
export function sized<T>(full: T, smoke: T): T {
  return SMOKE ? smoke : full;
}
