/**
 * The tables `diffuse eval` prints to stderr: every figure beside the real floor's and its bar,
 * then per class (for the bundled datasets and for a user's folder alike).
 */
import { EVAL_BARS, type EvalReport } from '../../eval/evaluate.js';

/** The tables printed to stderr: every figure beside the real one and its bar, then per class. */
export function formatReport(r: EvalReport, classNames?: readonly string[]): string {
  const f = (x: number | null, d = 4) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
  const ok = (b: boolean) => (b ? 'ok' : 'FAIL');
  const pts = (x: number) => `${(x * 100).toFixed(1)} pts`;
  const name = (j: number) => classNames?.[j] ?? String(j);
  const B = EVAL_BARS;
  const s = r.samples;
  const real = r.real;
  const b = r.bar;
  const kid = (k: { mean: number; std: number }) => `${(k.mean * 1000).toFixed(2)} +- ${(k.std * 1000).toFixed(2)}`;
  const worst = b.worstClasses.map((w) => `${name(w.class)} ${pts(w.gap)}`).join(', ');
  const table = (rowsOut: string[][]) => {
    const widths = rowsOut[0]!.map((_, c) => Math.max(...rowsOut.map((row) => row[c]!.length)));
    return `${rowsOut.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n')}\n`;
  };
  const summary = table([
    ['metric', `samples (n=${r.n})`, `real (n=${real.n})`, 'bar'],
    ['Frechet distance', f(s.frechetDistance, 3), f(real.frechetDistance, 3), `ratio ${f(b.fdRatio, 2)} <= ${B.fdRatio} ${ok(b.fdRatio <= B.fdRatio)}`],
    ['KID x 1000', kid(s.kid), kid(real.kid), ''],
    ['precision', f(s.precision), f(real.precision), `ratio ${f(b.precisionRatio, 3)} >= ${B.precisionRatio} ${ok(b.precisionRatio >= B.precisionRatio)}`],
    ['recall', f(s.recall), f(real.recall), `ratio ${f(b.recallRatio, 3)} >= ${B.recallRatio} ${ok(b.recallRatio >= B.recallRatio)}`],
    ['classifier accuracy', f(s.classifierAccuracy), `${f(real.classifierAccuracy)} (test)`, `gap ${pts(b.accuracyGap)} <= ${pts(B.accuracyGap)} ${ok(b.accuracyGap <= B.accuracyGap)}`],
    ['worst classes', worst, '(test)', `max gap ${pts(b.maxClassGap)} <= ${pts(B.classGap)} ${ok(b.maxClassGap <= B.classGap)}`],
    ['mirror more typical', f(s.mirrorShare), `${f(real.mirrorShare)} (test)`, `flagged: ${b.orientationFlagged.length === 0 ? 'none' : b.orientationFlagged.map(name).join(', ')} ${ok(b.orientationFlagged.length === 0)}`],
    ['memorisation', f(s.memorisation.rate), `${f(real.memorisation)} (test)`, `<= real ${ok(b.memorisationExcess <= 0)}`],
    ['CAS', f(s.cas), f(real.cas), b.casRatio === null ? 'skipped' : `ratio ${f(b.casRatio, 3)} >= ${B.casRatio} ${ok(b.casRatio >= B.casRatio)}`],
  ]);
  const perClass = table([
    ['class', 'accuracy: samples', 'real (test)', 'mirror more typical: samples', 'real (test)'],
    ...s.classifierAccuracyPerClass.map((a, j) => [
      name(j), f(a, 3), f(real.classifierAccuracyPerClass[j]!, 3), f(s.mirrorSharePerClass[j]!, 3),
      `${f(real.mirrorSharePerClass[j]!, 3)}${b.orientationFlagged.includes(j) ? '  flagged' : ''}`,
    ]),
  ]);
  return `${summary}\n${perClass}${b.pass ? 'every bar holds' : 'a bar fails'}\n`;
}
