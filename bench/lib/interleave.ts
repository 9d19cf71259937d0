/**
 * Side-by-side rounds: ours and the peer alternate who goes first each round, so drift in the machine's load
 * (a shared machine) hits both alike. Each run returns its own cost (ns per item, CPU ms per audio second …);
 * the ratio per round is ours ÷ peer (< 1: ours cheaper), and the figure is the median round.
 */
import { percentile } from './figure.js';

export interface SideBySide {
  ours: number[];
  peer: number[];
  /** ours ÷ peer, per round */
  ratios: number[];
  ratioP50: number;
  oursP50: number;
  peerP50: number;
}

export async function interleave(
  rounds: number,
  ours: () => number | Promise<number>,
  peer: () => number | Promise<number>,
): Promise<SideBySide> {
  await ours(); // warm-up (JIT, lazy loading) outside the rounds
  await peer();
  const o: number[] = [];
  const p: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      o.push(await ours());
      p.push(await peer());
    } else {
      p.push(await peer());
      o.push(await ours());
    }
  }
  const ratios = o.map((x, i) => x / p[i]!);
  return {
    ours: o,
    peer: p,
    ratios,
    ratioP50: percentile(ratios, 0.5),
    oursP50: percentile(o, 0.5),
    peerP50: percentile(p, 0.5),
  };
}

/** ns per call of `body` over `n` calls */
export function nsPer(n: number, body: () => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) body();
  return Number(process.hrtime.bigint() - t) / n;
}
