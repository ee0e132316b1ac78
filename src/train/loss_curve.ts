/**
 * The training loss curve of a run folder: metrics.jsonl (one JSON line per step) drawn as the
 * raw per-step loss and its exponential moving average, on a log axis.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS_NAME } from './checkpoint.js';
import { RunFolderError } from '../io/model_folder.js';
import { writeLineChartPng } from '../io/plot.js';
import { LossAverage } from './loss_average.js';

/** Smoothing of the drawn average: about the last 50 steps. */
const EMA_ALPHA = 0.02;

/** (step, loss) pairs of a run, in step order. */
export function readLossHistory(runDir: string): [number, number][] {
  const path = join(runDir, METRICS_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RunFolderError(`${path}: cannot read the run's metrics (${(e as Error).message}); is ${runDir} a training run folder?`);
  }
  const points: [number, number][] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const m = JSON.parse(line) as { step?: unknown; loss?: unknown };
      if (typeof m.step === 'number' && typeof m.loss === 'number') points.push([m.step, m.loss]);
    } catch {
      // A torn last line (the run was killed mid-write) is skipped; any other bad line is an error.
      if (i < text.split('\n').length - 2) throw new RunFolderError(`${path}:${i + 1}: not a JSON metrics line`);
    }
  });
  if (points.length === 0) throw new RunFolderError(`${path}: no loss values yet`);
  return points.sort((a, b) => a[0] - b[0]);
}

/** Writes the run's loss curve to `out` (PNG). */
export async function writeLossCurve(runDir: string, out: string, title = 'training loss'): Promise<void> {
  const raw = readLossHistory(runDir);
  // Bias-corrected moving average (as in Adam), so the first steps are not pulled toward zero.
  const average = new LossAverage(EMA_ALPHA);
  const smooth = raw.map(([s, l]): [number, number] => [s, average.add(l)]);
  await writeLineChartPng(out, {
    title,
    xLabel: 'step',
    yLabel: 'loss (log scale)',
    logY: true,
    series: [
      { name: 'per step', points: raw, color: '#9ecae1' },
      { name: 'moving average', points: smooth, color: '#08519c' },
    ],
  });
}
