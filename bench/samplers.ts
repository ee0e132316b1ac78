/**
 * Sampler benchmark (`npm run bench:samplers -- [MODEL_DIR] [--data D] [--n 1000] [--ddpm-n N]
 * [--guidance W] [--batch 64] [--out FILE]`): quality against model calls for
 *   DDPM 1000 steps (Ho et al. 2020), and DDIM, Euler (Karras sigmas), Heun (Karras sigmas),
 *   DPM-Solver++ 2M (Karras sigmas) and UniPC at 10, 20 and 50 model calls
 * (Heun takes 2 calls per step but one on the last: 9, 19, 49 calls; the exact count is measured).
 *
 * Quality is `diffuse eval`'s (src/eval/evaluate.ts) without CAS: Frechet distance and KID in the
 * dataset feature net's features against the test split, k-NN precision and recall, the feature
 * net's accuracy on the intended classes and the memorisation figure, each with the real-vs-real
 * floor at the same n. All runs share the seed, the classes (image i gets class i mod K), the
 * guidance weight (default: the model's sampling_config.json) and the batch size. DDPM's 1000 calls
 * cost 20-100x the others, so it may run on fewer images (--ddpm-n; 0 skips it); its row then has
 * its own floor, since FD and precision/recall depend on n. Prints JSON (progress on stderr) and
 * writes bench/results/samplers.json after every row, so a long run keeps what it measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { generate } from '../src/pipelines/generate.js';
import { findMethod, methodDefaultSteps, type SchedulerChoice } from '../src/sampling/registry.js';
import { UNet2DModel } from '../src/nn/unet_2d.js';
import { bundledFeatureNetDir, bundledModelDir, packageRoot, resolveModelDir } from '../src/io/model_folder.js';
import { readSchedulerConfig } from '../src/io/checkpoint.js';
import { readSamplingConfig } from '../src/io/sampling_config.js';
import { loadDataset } from '../src/data/index.js';
import { FeatureNet } from '../src/eval/feature_net.js';
import { classBalancedIndices, labelledFromDataset } from '../src/eval/labelled_images.js';
import { evaluateSamples, type EvalCache } from '../src/eval/evaluate.js';
import { engineInfo } from '../src/engine_info.js';
import { intFlag } from '../src/cli/edit_flags.js';
import type { SigmaScheduleName } from '../src/diffusion/sigma_ramps.js';

const SAMPLE_SEED = 0;
const CALL_BUDGETS = [10, 20, 50] as const;

interface Config {
  label: string;
  choice: SchedulerChoice;
  steps: number;
  sigmaSchedule?: SigmaScheduleName;
}

/** Each method at each budget of model calls. */
function fastConfigs(): Config[] {
  const out: Config[] = [];
  for (const calls of CALL_BUDGETS) {
    out.push({ label: `DDIM ${calls}`, choice: 'ddim', steps: calls });
    out.push({ label: `Euler (Karras) ${calls}`, choice: 'euler', steps: calls, sigmaSchedule: 'karras' });
    // Heun: N steps cost 2N - 1 calls (the last step is Euler).
    out.push({ label: `Heun (Karras) ${calls}`, choice: 'heun', steps: Math.floor((calls + 1) / 2), sigmaSchedule: 'karras' });
    out.push({ label: `DPM-Solver++ 2M (Karras) ${calls}`, choice: 'dpmpp_2m', steps: calls, sigmaSchedule: 'karras' });
    if (findMethod('UniPCMultistepScheduler') !== null) out.push({ label: `UniPC ${calls}`, choice: 'UniPCMultistepScheduler', steps: calls });
  }
  return out;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      data: { type: 'string', default: 'fashion-mnist' },
      n: { type: 'string', default: '1000' },
      'ddpm-n': { type: 'string' },
      batch: { type: 'string', default: '64' },
      guidance: { type: 'string' },
      out: { type: 'string' },
    },
    allowPositionals: true,
  });
  const data = values.data;
  if (data !== 'fashion-mnist' && data !== 'mnist') throw new Error(`--data must be fashion-mnist or mnist, found '${data}'`);
  const modelDir = positionals[0] ?? bundledModelDir(data);
  const batchSize = intFlag('batch', values.batch, 1)!;
  const { unetDir, schedulerDir } = resolveModelDir(modelDir);
  const model = UNet2DModel.fromPretrained(unetDir).eval();
  const embeds = model.config.numClassEmbeds;
  const guidanceScale = values.guidance === undefined ? readSamplingConfig(unetDir).guidanceScale : Number(values.guidance);
  if (!Number.isFinite(guidanceScale) || guidanceScale < 0) throw new Error(`--guidance must be a number >= 0, found '${values.guidance}'`);
  const schedulerConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
  // DDPM's default: every training timestep (the registry's rule).
  const numTrainTimesteps = schedulerConfig['num_train_timesteps'];
  const T = methodDefaultSteps(findMethod('ddpm')!, null, typeof numTrainTimesteps === 'number' ? { numTrainTimesteps } : {})!;

  const trainDs = await loadDataset(data, { split: 'train' });
  const testDs = await loadDataset(data, { split: 'test' });
  const k = trainDs.numClasses!;
  if (embeds === null || embeds - 1 !== k) throw new Error(`${modelDir} must be class-conditional with the ${k} classes of ${data} (+ the null class)`);
  const multiple = (flag: string, v: string, min: number): number => {
    const x = intFlag(flag, v, min)!;
    if (x % k !== 0) throw new Error(`--${flag} must be a multiple of the ${k} classes, found ${x}`);
    return x;
  };
  const n = multiple('n', values.n, k);
  const ddpmN = values['ddpm-n'] === undefined ? n : multiple('ddpm-n', values['ddpm-n'], 0);
  const featureNet = FeatureNet.fromPretrained(bundledFeatureNetDir(data));
  const train = labelledFromDataset(trainDs);
  const test = labelledFromDataset(testDs);
  const cache: EvalCache = {};

  // Count the U-Net's forwards (one per model call; guidance doubles the batch, not the calls).
  let forwards = 0;
  const forward = model.forward.bind(model);
  model.forward = (...args: Parameters<UNet2DModel['forward']>) => {
    forwards++;
    return forward(...args);
  };
  // DDPM last: the longest run, so an interrupted benchmark still has every other row.
  const runs: (Config & { n: number })[] = [
    ...fastConfigs().map((c) => ({ ...c, n })),
    ...(ddpmN > 0 ? [{ label: `DDPM ${T} steps`, choice: 'ddpm' as const, steps: T, n: ddpmN }] : []),
  ];
  const results = [];
  const out = values.out ?? join(packageRoot(), 'bench', 'results', 'samplers.json');
  for (const c of runs) {
    forwards = 0;
    const labels = Array.from({ length: c.n }, (_, i) => i % k);
    const t0 = performance.now();
    const { images } = generate({
      model, scheduler: c.choice, schedulerConfig, n: c.n, steps: c.steps, seed: SAMPLE_SEED, batchSize, guidanceScale, classLabels: labels,
      ...(c.sigmaSchedule === undefined ? {} : { sigmaSchedule: c.sigmaSchedule }),
    });
    const wall = (performance.now() - t0) / 1000;
    const r = evaluateSamples({ images, labels: Int32Array.from(labels) }, {
      featureNet, train, test, cache, cas: false, seed: 0, floorIndices: classBalancedIndices(trainDs, c.n, 0),
    });
    const s = r.samples;
    const row = {
      name: c.label, scheduler: c.choice, steps: c.steps, n: c.n, modelCalls: forwards / Math.ceil(c.n / batchSize),
      wallSeconds: wall, imagesPerSecond: c.n / wall,
      frechetDistance: s.frechetDistance, kid: s.kid.mean, precision: s.precision, recall: s.recall,
      classifierAccuracy: s.classifierAccuracy, memorisation: s.memorisation.rate,
      real: { frechetDistance: r.real.frechetDistance, kid: r.real.kid.mean, precision: r.real.precision, recall: r.real.recall, classifierAccuracy: r.real.classifierAccuracy },
    };
    results.push(row);
    process.stderr.write(`${c.label.padEnd(32)} n ${c.n} calls ${String(row.modelCalls).padStart(4)} ${wall.toFixed(1).padStart(7)} s  FD ${s.frechetDistance.toFixed(3)} (real ${r.real.frechetDistance.toFixed(3)})  P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)}  acc ${s.classifierAccuracy.toFixed(3)}\n`);
    const report = {
      benchmark: 'samplers',
      model: modelDir,
      data,
      batchSize,
      guidanceScale,
      seed: SAMPLE_SEED,
      metric: `diffuse eval's figures without CAS: Frechet distance and KID in the ${data} feature net's features against the test split, k-NN precision/recall (k = 3), the feature net's accuracy on the intended classes, memorisation; 'real' is n class-balanced train images scored the same way`,
      results,
      machine: { cpus: cpus().length, threads: engineInfo().threads, loadavg: loadavg() },
      date: new Date().toISOString(),
    };
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  }
  process.stdout.write(`${JSON.stringify({ out, results }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:samplers: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
