/**
 * The calibration table of the README ("Measuring sample quality"): what diffuse eval reports for
 * real images (the real-vs-real floor, at n = 1,000 and 10,000) and for blurred and noised real
 * images, so a reader knows what a figure means. One process: the test features and the test
 * images' nearest-training distances are computed once and shared (EvalCache).
 *
 * Usage: node --import tsx scripts/eval-calibration.ts [--data fashion-mnist] [--feature-net DIR] [--out FILE] [--cas]
 * Prints a Markdown table; --out writes every report as JSON.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadDataset } from '../src/data/index.js';
import { FeatureNet } from '../src/eval/feature_net.js';
import { classBalancedIndices, labelledFromDataset, type LabelledImages } from '../src/eval/labelled_images.js';
import { addGaussianNoise, gaussianBlur } from '../src/eval/degrade.js';
import { evaluateSamples, type EvalCache, type EvalReport } from '../src/eval/evaluate.js';
import { packageRoot } from '../src/backend/native/loader.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: 'fashion-mnist' }, 'feature-net': { type: 'string' }, out: { type: 'string' }, cas: { type: 'boolean', default: false } }, strict: true });
const data = values.data;
if (data !== 'fashion-mnist' && data !== 'mnist') throw new Error(`--data must be fashion-mnist or mnist, found '${data}'`);
const featureNet = FeatureNet.fromPretrained(values['feature-net'] ?? join(packageRoot(), 'models', 'feature-nets', data));
const trainDs = await loadDataset(data, { split: 'train' });
const train = labelledFromDataset(trainDs);
const test = labelledFromDataset(await loadDataset(data, { split: 'test' }));
const cache: EvalCache = {};

/** Real train images other than the floor's (seed 1000 as diffuse eval --real), degraded by `f`. */
function variant(n: number, f: (s: LabelledImages) => LabelledImages = (s) => s): LabelledImages {
  return f(labelledFromDataset(trainDs, classBalancedIndices(trainDs, n, 1000)));
}
const blur = (sigma: number) => (s: LabelledImages) => ({ images: gaussianBlur(s.images, sigma), labels: s.labels });
const noise = (std: number) => (s: LabelledImages) => ({ images: addGaussianNoise(s.images, std, 0), labels: s.labels });

const rows: { name: string; report: EvalReport; seconds: number }[] = [];
const runs: [string, number, ((s: LabelledImages) => LabelledImages) | undefined][] = [
  ['real train images', 1000, undefined],
  ['blurred, sigma 1 px', 1000, blur(1)],
  ['blurred, sigma 2 px', 1000, blur(2)],
  ['noised, std 0.1', 1000, noise(0.1)],
  ['noised, std 0.3', 1000, noise(0.3)],
  ['real train images', 10000, undefined],
];
for (const [name, n, f] of runs) {
  const t0 = performance.now();
  const report = evaluateSamples(variant(n, f), { featureNet, train, test, floorIndices: classBalancedIndices(trainDs, n, 0), cas: values.cas, cache });
  rows.push({ name, report, seconds: (performance.now() - t0) / 1000 });
  process.stderr.write(`${name} n=${n}: ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
const f = (x: number | null, d = 3) => (x === null ? '-' : x.toFixed(d));
const lines = [
  '| images | n | FD | KID x 1000 | precision | recall | accuracy | memorisation | CAS |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const { name, report: r } of rows) {
  const s = r.samples;
  lines.push(`| ${name} | ${r.n} | ${f(s.frechetDistance)} | ${f(s.kid.mean * 1000, 2)} +- ${f(s.kid.std * 1000, 2)} | ${f(s.precision)} | ${f(s.recall)} | ${f(s.classifierAccuracy)} | ${f(s.memorisation.rate)} | ${f(s.cas)} |`);
}
// The floor as each report computes it (train subset, seed 0, vs the test split), once per n.
for (const { report: r } of rows.filter((x, i) => i === 0 || i === rows.length - 1)) {
  lines.push(`| real-vs-real floor in the report | ${r.real.n} | ${f(r.real.frechetDistance)} | ${f(r.real.kid.mean * 1000, 2)} +- ${f(r.real.kid.std * 1000, 2)} | ${f(r.real.precision)} | ${f(r.real.recall)} | ${f(r.real.classifierAccuracy)} (test) | ${f(r.real.memorisation)} (test) | ${f(r.real.cas)} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(rows.map(({ name, report, seconds }) => ({ name, seconds: Math.round(seconds), ...report })), null, 2)}\n`);
