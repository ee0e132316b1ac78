/**
 * `diffuse eval`: sample quality of a class-conditional model (or of a folder of labelled images,
 * or of real images for calibration) against a bundled dataset, through src/eval/evaluate.ts;
 * with --bpd, the likelihood evaluation of eval_bpd.ts instead.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DiffuseError, UsageError } from '../../tensor/errors.js';
import { loadDataset } from '../../data/index.js';
import { generate } from '../../pipelines/generate.js';
import { findMethod, methodDefaultSteps, schedulerNames } from '../../sampling/registry.js';
import { plannedLoops } from '../../sampling/reverse_process.js';
import { resolveModelDir } from '../../io/model_folder.js';
import { UNet2DModel } from '../../nn/unet_2d.js';
import { readSchedulerConfig, writeJSONAtomic } from '../../io/checkpoint.js';
import { DEFAULT_SAMPLING_CONFIG, readSamplingConfig, resolveSampling } from '../../io/sampling_config.js';
import { writePngGrid } from '../../io/png.js';
import { sliceBatch } from '../../ops/slice.js';
import { packageRoot } from '../../io/package_root.js';
import { engineInfo } from '../../engine_info.js';
import { FeatureNet } from '../../eval/feature_net.js';
import { classBalancedIndices, labelledFromDataset, type LabelledImages } from '../../eval/labelled_images.js';
import { loadSampleFolder } from '../../eval/sample_folder.js';
import { addGaussianNoise, gaussianBlur } from '../../eval/degrade.js';
import { evaluateSamples, evalStageUnit, EVAL_BARS, type EvalReport } from '../../eval/evaluate.js';
import { CAS_STEPS } from '../../eval/cas.js';
import { MEMORIZATION_QUANTILE } from '../../eval/memorization.js';
import { ProgressBar, stagedProgress } from '../progress.js';
import { bpdHelp, runBpd } from './eval_bpd.js';
import { checkSchedulerFlags } from '../edit_flags.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, ETA_FLAG, FALLBACK_SCHEDULER, FALLBACK_STEPS, GUIDANCE_FLAG, MODEL_FLAG, SEED_FLAG, SIGMAS_FLAG, batchFlag, countFlag, formatFlagHelp, parseCommandFlags, pathFlag, schedulerFlag, stepsFlag, ALLOW_NONFINITE_FLAG } from '../flags.js';
import { boolField, described, intField, numberField, optional, stringField } from '../../schema/field.js';
import { runFolderEval, folderEvalHelp } from './eval_folder.js';

/** Images per forward pass when generating. */
const EVAL_BATCH_SIZE = 64;

const FLAGS = {
  data: described(optional(stringField('data', '')), 'fashion-mnist, mnist, or your own labelled folder DIR/<class>/*.png (below) (required).', { metavar: 'NAME|DIR' }),
  model: { ...MODEL_FLAG, doc: 'The model.' },
  allowNonfinite: ALLOW_NONFINITE_FLAG,
  n: countFlag('n', 1000, 1, 'Number of samples, a multiple of the class count.'),
  sampler: { ...schedulerFlag(undefined, 'sampler'), doc: "Scheduler or sampler, as diffuse sample's --scheduler." },
  steps: stepsFlag(`sampling_config.json's with its scheduler, else ${FALLBACK_STEPS}; num_train_timesteps for ddpm`),
  sigmas: SIGMAS_FLAG,
  guidance: GUIDANCE_FLAG,
  eta: ETA_FLAG,
  seed: { ...SEED_FLAG, doc: "Seed of the samples and of the metrics' subsets." },
  batch: batchFlag(EVAL_BATCH_SIZE),
  samples: pathFlag('samples', 'Evaluate a folder DIR/<class>/*.png (class index or name; the layout diffuse augment writes) instead of generating.', 'DIR'),
  real: described(boolField('real', false), 'Evaluate n class-balanced real train images instead (calibration).'),
  blur: described(optional(numberField('blur', 0, 0)), 'Blur the evaluated images with a Gaussian of S pixels first (calibration).', { metavar: 'S' }),
  noise: described(optional(numberField('noise', 0, 0)), 'Add Gaussian noise of std S (in [-1, 1] units) first (calibration).', { metavar: 'S' }),
  featureNet: pathFlag('feature_net', 'The feature net.', 'DIR', 'models/feature-nets/<data>/'),
  noCas: described(boolField('no_cas', false), 'Skip CAS (two classifier trainings: the slow part).'),
  casSteps: countFlag('cas_steps', CAS_STEPS, 1, 'Training steps of each CAS classifier.'),
  testN: described(optional(intField('test_n', 1, 1), 'the whole test split'), 'Score against N class-balanced test images (a seeded subset, a multiple of the class count) instead of the whole split: a quick look, whose figures compare only at the same N.'),
  memorizationQuantile: described(numberField('memorization_quantile', MEMORIZATION_QUANTILE, 0, 1, true, true), "Quantile of the test images' nearest-training distances that sets the memorisation threshold.", { metavar: 'Q' }),
  out: pathFlag('out', 'Also write the JSON report to FILE.'),
  grid: pathFlag('grid', 'Write the first 100 evaluated images as a PNG grid.'),
  bpd: described(boolField('bpd', false), 'Bits/dim instead (below).'),
  maxMemory: MAX_MEMORY_FLAG,
} as const;

export const summary = 'Measure sample quality (FD, KID, precision/recall, accuracy, memorisation, CAS) or bits/dim.';

export const help = `diffuse eval: measure a model's samples against a bundled dataset

Usage: diffuse eval --data fashion-mnist|mnist [--model DIR] [options]
       diffuse eval --data DIR --model M [--feature-net NET] [options]   (your own folder, below)
       diffuse eval --data fashion-mnist --samples DIR [options]
       diffuse eval --data fashion-mnist --real [--blur S | --noise S] [options]

Generates n class-balanced samples (class i mod K for image i) and reports, against the test
split: Frechet distance and KID in the dataset feature net's 128-d penultimate features, k-NN
precision and recall (k = 3, against n test images), the feature net's accuracy on the samples'
classes (overall and per class, the worst listed), the orientation check (per class, the share
of images whose mirror image the net finds more typical of their class, against the real test
images' share: a class well above it points the wrong way), the memorisation figure (share of
samples nearer in pixels to a training image than the 5% of real test images nearest to one),
and CAS (a classifier trained on the samples, tested on the test split), each next to what n
real images score. The bars are relative to real data: FD <= ${EVAL_BARS.fdRatio}x the real-vs-real floor at the
same n, precision and recall >= ${EVAL_BARS.precisionRatio}x the floor's, accuracy within ${EVAL_BARS.accuracyGap * 100} points of the real test
images' and every class within ${EVAL_BARS.classGap * 100}, no class flagged by the orientation check, memorisation
<= real, CAS >= ${EVAL_BARS.casRatio}x real. The feature nets are trained without flips (a judge that cannot tell
an image from its mirror cannot see mirrored samples). JSON goes to stdout (and --out), the
tables to stderr.

${folderEvalHelp}
Options:
${formatFlagHelp(FLAGS)}
${bpdHelp}`;

/** A bundled folder under models/, or a clear error naming it and the fix. */
function bundled(sub: string, fix: string): string {
  const dir = join(packageRoot(), 'models', sub);
  if (!existsSync(dir)) throw new DiffuseError(`${dir} is missing; ${fix}`);
  return dir;
}

import { formatReport } from './eval_report.js';

export { formatReport };

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--bpd')) {
    await runBpd(argv);
    return;
  }
  const { values, given } = parseCommandFlags('eval', FLAGS, argv);
  applyMaxMemory(values.maxMemory);
  // Every flag is checked before anything is loaded.
  const data = values.data;
  if (data === undefined || data === '') throw new UsageError('--data is required: fashion-mnist, mnist, or a folder DIR/<class>/*.png of your own images');
  if (data !== 'fashion-mnist' && data !== 'mnist') {
    if (!existsSync(data)) throw new UsageError(`--data must be fashion-mnist, mnist or an existing folder DIR/<class>/*.png, found '${data}' (no such folder)`);
    return runFolderEval(data, values, given);
  }
  const source = values.samples !== undefined ? 'folder' : values.real ? 'real' : 'model';
  if (values.samples !== undefined && values.real) throw new UsageError('--samples and --real each choose what to evaluate; give one');
  const generating = source === 'model';
  for (const flag of ['model', 'sampler', 'steps', 'sigmas', 'guidance', 'eta', 'batch'] as const) {
    if (!generating && given.has(flag)) throw new UsageError(`--${flag} applies when generating samples; with --${source === 'folder' ? 'samples' : 'real'} nothing is generated`);
  }
  if (source === 'folder' && given.has('n')) throw new UsageError('--n applies when generating or with --real; with --samples every image in the folder is evaluated');
  const { n, seed, eta, blur, noise, casSteps } = values;
  const batch = values.batch ?? EVAL_BATCH_SIZE;
  const q = values.memorizationQuantile;
  // The model folder's sampling_config.json supplies what the flags leave out, as in diffuse sample.
  const modelDir = generating ? (values.model ?? bundled('fashion-mnist', `pass --model DIR`)) : null;
  const modelFiles = modelDir === null ? null : resolveModelDir(modelDir);
  const defaults = modelFiles === null ? DEFAULT_SAMPLING_CONFIG : readSamplingConfig(modelFiles.unetDir, schedulerNames());
  const choice = resolveSampling(defaults, { scheduler: values.sampler, steps: values.steps, guidanceScale: values.guidance }, FALLBACK_SCHEDULER);
  const schedName = choice.scheduler;
  if (!schedulerNames().includes(schedName)) throw new UsageError(`--sampler must be one of ${schedulerNames().join(', ')}, found '${schedName}'`);
  const sigmaSchedule = values.sigmas;
  checkSchedulerFlags(schedName, sigmaSchedule, undefined);

  const trainDs = await loadDataset(data, { split: 'train' });
  const testDs = await loadDataset(data, { split: 'test' });
  const k = trainDs.numClasses!;
  if (source !== 'folder' && n % k !== 0) throw new UsageError(`--n must be a positive multiple of the ${k} classes (class-balanced samples), found ${n}`);
  const fnDir = values.featureNet ?? bundled(join('feature-nets', data), `pass --feature-net DIR (train one with 'diffuse train-feature-net --data ${data} --out DIR')`);
  const featureNet = FeatureNet.fromPretrained(fnDir, { allowNonfinite: values.allowNonfinite });
  let fnTestAccuracy: number | null = null;
  try {
    fnTestAccuracy = (JSON.parse(readFileSync(join(fnDir, 'metrics.json'), 'utf8')) as { test_accuracy?: number }).test_accuracy ?? null;
  } catch {
    // metrics.json is informational.
  }

  const started = performance.now();
  let samples: LabelledImages;
  let generation: Record<string, unknown> | null = null;
  if (source === 'model') {
    const { unetDir, schedulerDir } = modelFiles!;
    const model = UNet2DModel.fromPretrained(unetDir, { allowNonfinite: values.allowNonfinite });
    const embeds = model.config.numClassEmbeds;
    if (embeds === null) throw new DiffuseError(`${modelDir} is unconditional (num_class_embeds is null); diffuse eval needs a class-conditional model (or evaluate a labelled folder with --samples)`);
    if (embeds - 1 !== k) throw new DiffuseError(`${modelDir} has ${embeds - 1} classes (+ the null class) but ${data} has ${k}; evaluate it against the dataset it was trained on`);
    const schedConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
    const guidance = choice.guidanceScale;
    const numTrainTimesteps = typeof schedConfig['num_train_timesteps'] === 'number' ? schedConfig['num_train_timesteps'] : undefined;
    const method = findMethod(schedName);
    const steps = choice.steps ?? (method === null ? FALLBACK_STEPS : (methodDefaultSteps(method, null, numTrainTimesteps === undefined ? {} : { numTrainTimesteps }) ?? FALLBACK_STEPS));
    const perChunk = plannedLoops(schedName, steps, schedConfig);
    const labels = Array.from({ length: n }, (_, i) => i % k);
    const bar = new ProgressBar({ total: Math.ceil(n / batch) * perChunk, label: 'generate', unit: 'step' });
    const result = generate({
      model,
      scheduler: schedName,
      schedulerConfig: schedConfig,
      ...(sigmaSchedule === undefined ? {} : { sigmaSchedule }),
      n, steps, seed, batchSize: batch, guidanceScale: guidance, classLabels: labels,
      ...(eta === undefined ? {} : { eta }),
      onProgress: ({ step }) => bar.update(step),
    });
    if (process.stderr.isTTY) bar.done();
    samples = { images: result.images, labels: Int32Array.from(labels) };
    generation = { model: modelDir, sampler: schedName, steps, guidance, seed, ...(eta === undefined ? {} : { eta }), ...(sigmaSchedule === undefined ? {} : { sigmas: sigmaSchedule }) };
  } else if (source === 'folder') {
    samples = await loadSampleFolder(values.samples!, { imageSize: featureNet.config.imageSize, channels: featureNet.config.inChannels, classNames: trainDs.classNames });
  } else {
    // Real train images, a different seeded subset from the report's own real-vs-real floor.
    samples = labelledFromDataset(trainDs, classBalancedIndices(trainDs, n, seed + 1000));
  }
  const generateSeconds = (performance.now() - started) / 1000;
  if (blur !== undefined) samples = { images: gaussianBlur(samples.images, blur), labels: samples.labels };
  if (noise !== undefined) samples = { images: addGaussianNoise(samples.images, noise, seed), labels: samples.labels };
  if (values.grid !== undefined) {
    mkdirSync(dirname(values.grid), { recursive: true });
    await writePngGrid(values.grid, sliceBatch(samples.images, 0, Math.min(100, samples.labels.length)), { nrow: 10 });
  }

  const train = labelledFromDataset(trainDs);
  const testN = values.testN;
  if (testN !== undefined && (testN % k !== 0 || testN > testDs.length)) throw new UsageError(`--test-n must be a multiple of the ${k} classes and at most the ${testDs.length} test images of ${data}, found ${testN}`);
  const test = labelledFromDataset(testDs, testN === undefined ? undefined : classBalancedIndices(testDs, testN, seed + 2000));
  // The floor set: n class-balanced train images (as many per class as the train split allows).
  const perClassMax = Math.min(...Array.from({ length: k }, (_, c) => train.labels.reduce((m, y) => m + (y === c ? 1 : 0), 0)));
  const floorN = Math.min(Math.floor(samples.labels.length / k), perClassMax) * k;
  if (floorN < k) throw new DiffuseError(`the evaluated set has ${samples.labels.length} images; it needs at least one per class (${k})`);
  const floorIndices = classBalancedIndices(trainDs, floorN, seed);
  const progress = stagedProgress(evalStageUnit);
  const evalStarted = performance.now();
  const report = evaluateSamples(samples, {
    featureNet, train, test, floorIndices, seed,
    cas: !values.noCas, casSteps, memorizationQuantile: q,
    onProgress: progress.onProgress,
  });
  progress.done();
  const evaluateSeconds = (performance.now() - evalStarted) / 1000;
  const json = {
    data,
    source,
    ...(source === 'folder' ? { folder: values.samples } : {}),
    ...(generation === null ? {} : { generation }),
    ...(blur === undefined ? {} : { blur }),
    ...(noise === undefined ? {} : { noise }),
    featureNet: { dir: fnDir, testAccuracy: fnTestAccuracy },
    ...(testN === undefined ? {} : { testImages: testN }),
    ...report,
    seconds: { generate: Math.round(generateSeconds), evaluate: Math.round(evaluateSeconds) },
    threads: engineInfo().threads,
  };
  const text = `${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2)}\n`;
  if (values.out !== undefined) {
    mkdirSync(dirname(values.out), { recursive: true });
    writeJSONAtomic(values.out, JSON.parse(text) as unknown);
  }
  process.stderr.write(formatReport(report, trainDs.classNames));
  process.stdout.write(text);
}

