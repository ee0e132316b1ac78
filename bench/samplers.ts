/**
 * Sampler benchmark (`npm run bench:samplers -- [MODEL_DIR] [--n 256] [--batch 64] [--out FILE]`):
 * for a trained model (default models/fashion-mnist), wall time and sample quality of
 *   DDPM 1000 steps (Ho et al. 2020), and DDIM, Euler (Karras sigmas), Heun (Karras sigmas),
 *   DPM-Solver++ 2M (Karras sigmas) and UniPC at 10, 20 and 50 model calls
 * (Heun takes 2 calls per step but one on the last: 9, 19, 49 calls; the exact count is measured).
 *
 * Quality: the sliced Wasserstein distance (Rabin et al. 2011; Deshpande et al. 2018) in pixel
 * space between N generated images and N Fashion-MNIST test images with the same class counts:
 *   SWD = sqrt(mean_k W2(P_k A, P_k B)^2) over K = 512 seeded random unit directions P_k in R^784,
 * with W2 between two equal-size 1-D samples = the RMS difference of their sorted projections.
 * Pixels in [-1, 1]. Lower is better; `swdFloor` is the same distance between N test and N train
 * images (what a perfect model would score, the sampling noise of N images). Train-free and cheap,
 * and computed the same way for every sampler. All runs share the seed, the classes (i mod 10)
 * and the batch size. Prints JSON (progress on stderr) and writes bench/results/samplers.json.
 * Run it on an idle machine: at ~200 images/s forward, DDPM 1000 steps of 256 images is ~20 min.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { generate, resolveScheduler, type SchedulerChoice } from '../src/pipelines/generate.js';
import { UNet2DModel } from '../src/nn/unet_2d.js';
import { resolveModelDir } from '../src/train/checkpoint.js';
import { readSchedulerConfig } from '../src/io/checkpoint.js';
import { fashionMnist, FASHION_MNIST_CLASSES } from '../src/data/fashion_mnist.js';
import { Generator } from '../src/tensor/random.js';
import { SCHEDULER_CLASSES } from '../src/schedulers/index.js';
import { packageRoot } from '../src/backend/native/loader.js';
import type { SigmaScheduleName } from '../src/samplers/sigmas.js';

/** Random directions of the sliced Wasserstein distance: enough for a stable figure at 784 dimensions. */
const SWD_DIRECTIONS = 512;
const SWD_SEED = 1234;
const SAMPLE_SEED = 0;
const TEST_PER_CLASS = 1000;
const CALL_BUDGETS = [10, 20, 50] as const;

interface Config {
  label: string;
  choice: SchedulerChoice;
  steps: number;
  sigmaSchedule?: SigmaScheduleName;
}

/** The runs: DDPM 1000, then each method at each budget of model calls. */
function configs(T: number): Config[] {
  const out: Config[] = [{ label: `DDPM ${T} steps`, choice: 'ddpm', steps: T }];
  for (const calls of CALL_BUDGETS) {
    out.push({ label: `DDIM ${calls}`, choice: 'ddim', steps: calls });
    out.push({ label: `Euler (Karras) ${calls}`, choice: 'euler', steps: calls, sigmaSchedule: 'karras' });
    // Heun: N steps cost 2N - 1 calls (the last step is Euler).
    out.push({ label: `Heun (Karras) ${calls}`, choice: 'heun', steps: Math.floor((calls + 1) / 2), sigmaSchedule: 'karras' });
    out.push({ label: `DPM-Solver++ 2M (Karras) ${calls}`, choice: 'dpmpp_2m', steps: calls, sigmaSchedule: 'karras' });
    if ('UniPCMultistepScheduler' in SCHEDULER_CLASSES) out.push({ label: `UniPC ${calls}`, choice: 'UniPCMultistepScheduler', steps: calls });
  }
  return out;
}

/** (n, D) rows projected on K unit directions (D, K): (K, n) sorted per direction. */
function sortedProjections(rows: Float32Array, n: number, dirs: Float64Array, dim: number, k: number): Float64Array[] {
  const out = Array.from({ length: k }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const row = rows.subarray(i * dim, (i + 1) * dim);
    for (let j = 0; j < k; j++) {
      const d = dirs.subarray(j * dim, (j + 1) * dim);
      let s = 0;
      for (let p = 0; p < dim; p++) s += row[p]! * d[p]!;
      out[j]![i] = s;
    }
  }
  for (const a of out) a.sort();
  return out;
}

/** Sliced Wasserstein-2 distance between two equal-size image sets (n, D) on seeded directions. */
export function slicedWasserstein(a: Float32Array, b: Float32Array, n: number, dim: number, directions = SWD_DIRECTIONS, seed = SWD_SEED): number {
  const raw = new Generator(seed).normal([directions, dim]).data;
  const dirs = new Float64Array(raw.length);
  for (let j = 0; j < directions; j++) {
    let norm = 0;
    for (let p = 0; p < dim; p++) norm += raw[j * dim + p]! ** 2;
    norm = Math.sqrt(norm);
    for (let p = 0; p < dim; p++) dirs[j * dim + p] = raw[j * dim + p]! / norm;
  }
  const pa = sortedProjections(a, n, dirs, dim, directions);
  const pb = sortedProjections(b, n, dirs, dim, directions);
  let total = 0;
  for (let j = 0; j < directions; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += (pa[j]![i]! - pb[j]![i]!) ** 2;
    total += s / n;
  }
  return Math.sqrt(total / directions);
}

/** n real images with classes i mod 10 (the classes generate() gives by default), from `split`. */
function realImages(split: 'train' | 'test', n: number, offset: number): Float32Array {
  const ds = fashionMnist(split);
  const per = ds.length / FASHION_MNIST_CLASSES.length;
  const out = new Float32Array(n * 28 * 28); // (N, 28, 28, 1)
  const used = new Array<number>(FASHION_MNIST_CLASSES.length).fill(0);
  for (let i = 0; i < n; i++) {
    const k = i % FASHION_MNIST_CLASSES.length;
    out.set(ds.get(k * per + offset + used[k]!++).image, i * 28 * 28);
  }
  return out;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: { n: { type: 'string', default: '256' }, batch: { type: 'string', default: '64' }, out: { type: 'string' }, guidance: { type: 'string', default: '1' } },
    allowPositionals: true,
  });
  const modelDir = positionals[0] ?? join(packageRoot(), 'models', 'fashion-mnist');
  const n = Number(values.n);
  const batchSize = Number(values.batch);
  const guidanceScale = Number(values.guidance);
  if (!Number.isInteger(n) || n < 2 || n > TEST_PER_CLASS * 10) throw new Error(`--n must be an integer in [2, 10000], found ${values.n}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch must be an integer >= 1, found ${values.batch}`);
  const { unetDir, schedulerDir } = resolveModelDir(modelDir);
  const model = UNet2DModel.fromPretrained(unetDir).eval();
  const schedulerConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
  const ddpm = resolveScheduler('ddpm', schedulerConfig);
  const T = ddpm.kind === 'scheduler' ? ddpm.scheduler.timesteps.length : 1000;
  const dim = 28 * 28 * model.config.inChannels;

  const test = realImages('test', n, 0);
  const swdFloor = slicedWasserstein(realImages('train', n, 0), test, n, dim);
  process.stderr.write(`reference: ${n} test images; floor (train vs test) SWD ${swdFloor.toFixed(4)}\n`);

  // Count the U-Net's forwards (one per model call; guidance doubles the batch, not the calls).
  let forwards = 0;
  const forward = model.forward.bind(model);
  model.forward = (...args: Parameters<UNet2DModel['forward']>) => {
    forwards++;
    return forward(...args);
  };
  const chunks = Math.ceil(n / batchSize);
  const results = [];
  for (const c of configs(T)) {
    forwards = 0;
    const t0 = performance.now();
    const { images } = generate({
      model, scheduler: c.choice, schedulerConfig, n, steps: c.steps, seed: SAMPLE_SEED, batchSize,
      ...(model.config.numClassEmbeds !== null ? { guidanceScale } : {}),
      ...(c.sigmaSchedule === undefined ? {} : { sigmaSchedule: c.sigmaSchedule }),
    });
    const wall = (performance.now() - t0) / 1000;
    const swd = slicedWasserstein(images.toArray(), test, n, dim);
    const row = { name: c.label, scheduler: typeof c.choice === 'string' ? c.choice : 'instance', steps: c.steps, modelCalls: forwards / chunks, wallSeconds: wall, imagesPerSecond: n / wall, swd };
    results.push(row);
    process.stderr.write(`${c.label.padEnd(32)} calls ${String(row.modelCalls).padStart(4)}  ${wall.toFixed(1).padStart(7)} s  SWD ${swd.toFixed(4)}\n`);
  }
  const report = {
    benchmark: 'samplers',
    model: modelDir,
    n,
    batchSize,
    guidanceScale,
    seed: SAMPLE_SEED,
    metric: `sliced Wasserstein-2 distance in pixel space ([-1, 1]) between ${n} samples and ${n} Fashion-MNIST test images (same class counts), ${SWD_DIRECTIONS} seeded directions; lower is better`,
    swdFloor,
    results,
    machine: { cpus: cpus().length, loadavg: loadavg() },
    date: new Date().toISOString(),
  };
  const json = JSON.stringify(report, null, 2);
  const out = values.out ?? join(packageRoot(), 'bench', 'results', 'samplers.json');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

// Run when executed (node dist/bench/samplers.js), not when imported for its metric.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench:samplers: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
