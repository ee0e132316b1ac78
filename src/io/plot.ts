/**
 * Line charts as SVG, rendered to PNG by sharp (librsvg): loss curves, per-timestep breakdowns.
 * Small on purpose: linear or log y axis, "nice" ticks, several named series with a legend.
 */
import sharp from 'sharp';
import { DiffuseError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';

export interface Series {
  name: string;
  /** (x, y) points; non-finite y values are skipped (a gap, not a crash). */
  points: readonly (readonly [number, number])[];
  color?: string;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  logY?: boolean;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
/** Plot margins in pixels: left room for y tick labels, bottom for x labels. */
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };

/** About `count` round tick values covering [lo, hi] (1, 2, 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Log-axis ticks: 1, 2 and 5 times powers of ten in [lo, hi], or only the powers if that is too many. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks.push(v);
    }
  }
  const powers = ticks.filter((v) => Number.isInteger(Math.log10(v)) || Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  return ticks.length > 8 && powers.length >= 2 ? powers : ticks;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** The chart as an SVG document. */
export function lineChartSvg(chart: LineChart): string {
  const { width = 720, height = 420, logY = false } = chart;
  const pts = chart.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y) && (!logY || y > 0)));
  if (pts.length === 0) throw new DiffuseError(`plot '${chart.title}': no finite points to draw${logY ? ' (log axis needs y > 0)' : ''}`);
  const ty = (y: number): number => (logY ? Math.log10(y) : y);
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => ty(p[1]))), Math.max(...pts.map((p) => ty(p[1])))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const pw = width - MARGIN.left - MARGIN.right;
  const ph = height - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => MARGIN.top + (1 - (ty(y) - y0) / (y1 - y0)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${esc(chart.title)}</text>`);
  for (const t of niceTicks(x0, x1)) {
    out.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${MARGIN.top}" y2="${MARGIN.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${sx(t)}" y="${MARGIN.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  const yTicks = logY ? logTicks(10 ** y0, 10 ** y1) : niceTicks(y0, y1);
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + pw / 2}" y="${height - 10}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`);
  chart.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const d = s.points
      .filter(([, y]) => Number.isFinite(y) && (!logY || y > 0))
      .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join('');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    out.push(`<line x1="${MARGIN.left + pw - 150}" x2="${MARGIN.left + pw - 130}" y1="${MARGIN.top + 14 + 16 * i}" y2="${MARGIN.top + 14 + 16 * i}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${MARGIN.left + pw - 124}" y="${MARGIN.top + 18 + 16 * i}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Renders the chart to a PNG file (written atomically). */
export async function writeLineChartPng(path: string, chart: LineChart): Promise<void> {
  const png = await sharp(Buffer.from(lineChartSvg(chart))).png().toBuffer();
  writeFileAtomic(path, png);
}
