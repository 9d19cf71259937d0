/**
 * A small SVG line chart (no chart library): numeric x and y axes, one polyline per series, a legend, and an
 * optional horizontal reference line (a target). Enough for the bench report's CDFs and sweeps.
 */

export interface Series {
  name: string;
  points: Array<[number, number]>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** horizontal reference lines, e.g. a target */
  hLines?: Array<{ y: number; label: string }>;
  /** vertical reference lines */
  vLines?: Array<{ x: number; label: string }>;
  yMin?: number;
  yMax?: number;
  xMin?: number;
  xMax?: number;
  /** a line under the title: machine, load, date */
  subtitle?: string;
}

const W = 720;
const H = 420;
const M = { left: 70, right: 180, top: 56, bottom: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round axis ticks: about `count` steps of 1, 2 or 5 × 10^k. */
export function ticks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

export function lineChart(o: ChartOptions): string {
  const all = o.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = [...all.map((p) => p[1]), ...(o.hLines ?? []).map((h) => h.y)];
  const xMin = o.xMin ?? Math.min(...xs, 0);
  const xMax = o.xMax ?? Math.max(...xs, xMin + 1);
  const yMin = o.yMin ?? Math.min(...ys, 0);
  const yMax = o.yMax ?? Math.max(...ys, yMin + 1) * 1.05;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => M.top + ph - ((Math.min(y, yMax) - yMin) / (yMax - yMin)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  if (o.subtitle) parts.push(`<text x="${M.left}" y="40" fill="#555">${esc(o.subtitle)}</text>`);
  for (const t of ticks(xMin, xMax)) {
    parts.push(
      `<line x1="${sx(t)}" y1="${M.top}" x2="${sx(t)}" y2="${M.top + ph}" stroke="#eee"/>`,
      `<text x="${sx(t)}" y="${M.top + ph + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  for (const t of ticks(yMin, yMax)) {
    parts.push(
      `<line x1="${M.left}" y1="${sy(t)}" x2="${M.left + pw}" y2="${sy(t)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  for (const h of o.hLines ?? []) {
    parts.push(
      `<line x1="${M.left}" y1="${sy(h.y)}" x2="${M.left + pw}" y2="${sy(h.y)}" stroke="#888" stroke-dasharray="6 4"/>`,
      `<text x="${M.left + pw - 4}" y="${sy(h.y) - 4}" text-anchor="end" fill="#555">${esc(h.label)}</text>`,
    );
  }
  for (const v of o.vLines ?? []) {
    parts.push(
      `<line x1="${sx(v.x)}" y1="${M.top}" x2="${sx(v.x)}" y2="${M.top + ph}" stroke="#888" stroke-dasharray="6 4"/>`,
      `<text x="${sx(v.x) + 4}" y="${M.top + 12}" fill="#555">${esc(v.label)}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    if (s.points.length <= 30)
      for (const [x, y] of s.points)
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = M.top + 10 + i * 18;
    parts.push(
      `<line x1="${M.left + pw + 12}" y1="${ly}" x2="${M.left + pw + 32}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${M.left + pw + 38}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Empirical CDF points (value, fraction ≤ value) of a sample. */
export function cdf(samples: number[]): Array<[number, number]> {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted.map((v, i) => [v, (i + 1) / sorted.length]);
}
