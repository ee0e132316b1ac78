/**
 * Classifier-guidance check (`node --import tsx bench/classifier_guidance.ts CLASSIFIER [MODEL_DIR]
 * [--n 100] [--steps 25] [--scale 0,S,...] [--grid FILE] [--out FILE]`), JSON out:
 * 1. The noise-conditional classifier's accuracy on Fashion-MNIST test images noised to
 *    t = 0, 100, 250, 500, 750, 999 (seeded noise), i.e. how much it can still see at each t.
 * 2. Its effect: samples of the diffusion model (default the bundled models/fashion-mnist) run
 *    unconditionally (classifier-free weight 0: the null class) and steered towards target class
 *    i mod 10 by the classifier at each scale; reported is the classifier's own accuracy at t = 0
 *    on the final samples against the targets (a feature-free check: 10% is chance; scale 0 is the
 *    unguided baseline). The same seed and targets for every scale.
 * --grid writes one row per scale (scale 0 first), 10 images (classes 0..9) per row.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generate } from '../src/pipelines/generate.js';
import { UNet2DModel } from '../src/nn/unet_2d.js';
import { NoisyClassifier } from '../src/nn/noisy_classifier.js';
import { resolveModelDir } from '../src/io/model_folder.js';
import { readSchedulerConfig } from '../src/io/checkpoint.js';
import { fashionMnist } from '../src/data/fashion_mnist.js';
import { DDPMScheduler } from '../src/schedulers/ddpm.js';
import { addNoise } from '../src/diffusion/forward.js';
import { Generator } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { noGrad } from '../src/tensor/autograd.js';
import { sliceBatch } from '../src/ops/slice.js';
import { writePngGrid } from '../src/io/png.js';

const { values: v, positionals } = parseArgs({
  options: { n: { type: 'string' }, steps: { type: 'string' }, scale: { type: 'string' }, grid: { type: 'string' }, out: { type: 'string' }, 'eval-n': { type: 'string' } },
  allowPositionals: true,
});
const clfPath = positionals[0];
if (clfPath === undefined) throw new Error('usage: bench/classifier_guidance.ts CLASSIFIER_DIR [MODEL_DIR] [--n N] [--steps K] [--scale 0,S]');
const clfDir = existsSync(join(clfPath, 'model', 'config.json')) ? join(clfPath, 'model') : clfPath;
const clf = NoisyClassifier.fromPretrained(clfDir);
const n = Number(v.n ?? 100);
const steps = Number(v.steps ?? 25);
const scales = (v.scale ?? '0,4').split(',').map(Number);
const evalN = Number(v['eval-n'] ?? 1000);

/** Argmax accuracy of the classifier on x at timestep(s) t against labels. */
function accuracy(x: Tensor, t: number, labels: readonly number[]): number {
  let correct = 0;
  const k = clf.config.numClasses;
  for (let s = 0; s < labels.length; s += 100) {
    const e = Math.min(labels.length, s + 100);
    const z = noGrad(() => clf.forward(sliceBatch(x, s, e), t)).toArray();
    for (let i = 0; i < e - s; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (z[i * k + c]! > z[i * k + best]!) best = c;
      if (best === labels[s + i]) correct++;
    }
  }
  return correct / labels.length;
}

// 1. Accuracy on noised test images (evenly spaced over the class-major test split).
const test = fashionMnist('test');
const stride = Math.floor(test.length / evalN);
const x0 = new Float32Array(evalN * 784);
const y: number[] = [];
for (let i = 0; i < evalN; i++) {
  const s = test.get(i * stride);
  x0.set(s.image, i * 784);
  y.push(s.label!);
}
const x0T = new Tensor(x0, [evalN, 28, 28, 1]);
const acp = new DDPMScheduler(readSchedulerConfig(clfDir)).alphasCumprod;
const accuracyAtT: Record<string, number> = {};
for (const t of [0, 100, 250, 500, 750, 999]) {
  const xt = addNoise(acp, x0T, new Generator(t + 1).normal(x0T.shape), new Float64Array(evalN).fill(t));
  accuracyAtT[String(t)] = accuracy(xt, t, y);
  process.stderr.write(`accuracy at t=${t}: ${accuracyAtT[String(t)]}\n`);
}

// 2. Guided vs unguided samples of the diffusion model.
const modelPath = positionals[1] ?? 'models/fashion-mnist';
const { unetDir, schedulerDir } = resolveModelDir(modelPath);
const model = UNet2DModel.fromPretrained(unetDir);
const schedulerConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
const targets = Array.from({ length: n }, (_, i) => i % 10);
const conditional = model.config.numClassEmbeds !== null;
const results: { scale: number; accuracyAtT0: number; seconds: number }[] = [];
const rows: Tensor[] = [];
for (const scale of scales) {
  const t0 = performance.now();
  const { images } = generate({
    model,
    scheduler: 'ddim',
    schedulerConfig,
    n,
    steps,
    seed: 0,
    classLabels: targets,
    // A class-conditional model runs unconditionally (classifier-free weight 0: the null class).
    ...(conditional ? { guidanceScale: 0 } : {}),
    ...(scale === 0 ? {} : { classifier: clf, classifierScale: scale }),
    onProgress: ({ step, total }) => process.stderr.write(`\rscale ${scale}: ${step}/${total}`),
  });
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write('\n');
  results.push({ scale, accuracyAtT0: accuracy(images, 0, targets), seconds });
  rows.push(sliceBatch(images, 0, Math.min(10, n)));
}
const out = {
  classifier: clfPath,
  model: modelPath,
  evalImages: evalN,
  accuracyAtT,
  samples: { n, steps, scheduler: 'ddim', seed: 0, targets: 'i mod 10', classifierFreeWeight: conditional ? 0 : null, guided: results },
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
const outFile = v.out ?? 'bench/results/classifier_guidance.json';
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(out, null, 2)}\n`);
if (v.grid !== undefined) {
  const per = 784;
  const k = rows[0]!.shape[0]!;
  const all = new Float32Array(rows.length * k * per);
  rows.forEach((r, i) => all.set(r.toArray(), i * k * per));
  await writePngGrid(v.grid, new Tensor(all, [rows.length * k, 28, 28, 1]), { nrow: k });
}
