/**
 * `diffuse eval --data DIR`: sample quality on the user's own labelled folder (src/eval/folder_eval.ts):
 * the folder is split by seed (60% trains the feature net, 20% held-out reference, 20% held-out
 * floor), the feature net comes from --feature-net (a train-feature-net --data DIR folder) or the
 * cache (trained on first use), and the samples (a model's, a --samples folder's, or --real
 * training images) are scored against the reference beside the floor at the same n.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DiffuseError } from '../../tensor/errors.js';
import { loadImageFolder } from '../../data/image_folder.js';
import { resolveModelDir } from '../../io/model_folder.js';
import { UNet2DModel } from '../../nn/unet_2d.js';
import { readSchedulerConfig, writeJSONAtomic } from '../../io/checkpoint.js';
import { readSamplingConfig, resolveSampling } from '../../io/sampling_config.js';
import { writePngGrid } from '../../io/png.js';
import { sliceBatch } from '../../ops/slice.js';
import { findMethod, methodDefaultSteps, schedulerNames } from '../../sampling/registry.js';
import { engineInfo } from '../../engine_info.js';
import { generate } from '../../pipelines/generate.js';
import { FeatureNet } from '../../eval/feature_net.js';
import { addGaussianNoise, gaussianBlur } from '../../eval/degrade.js';
import { loadSampleFolder } from '../../eval/sample_folder.js';
import type { LabelledImages } from '../../eval/labelled_images.js';
import { folderImages } from '../../eval/folder_split.js';
import { evaluateOnFolder, folderEvalData, readDataSplit, SMALL_FOLDER } from '../../eval/folder_eval.js';
import { cachedFolderFeatureNet, folderImageSize, loadFolderFeatureNet } from '../../eval/folder_feature_net.js';
import { evalStageUnit } from '../../eval/evaluate.js';
import type { SigmaScheduleName } from '../../diffusion/sigma_ramps.js';
import { ProgressBar, stagedProgress } from '../progress.js';
import { FALLBACK_SCHEDULER, FALLBACK_STEPS } from '../flags.js';
import { checkSchedulerFlags } from '../edit_flags.js';
import { formatReport } from './eval_report.js';

export const folderEvalHelp = `
Your own folder (--data DIR, DIR/<class>/*.png, at least 2 classes, any size and channel count):
the folder is split per class by a seed (60% trains the feature net, 20% is the held-out
reference every figure is measured against, 20% the held-out real-vs-real floor; the held-out
images never train the net). The feature net is --feature-net NET (written by diffuse
train-feature-net --data DIR --out NET, whose data_split.json must match the folder) or, without
it, one trained on first use into the cache (DIFFUSE_CACHE, else ~/.cache/diffuse; reused while
the folder's file list is unchanged). --n defaults to the floor's size (a multiple of the class
count); the report warns where the folder is too small for a figure to mean much (fewer than
${SMALL_FOLDER.minImagesPerDim} x the net's 128 feature dimensions per set for FD/KID, fewer than
${SMALL_FOLDER.minPerClass} reference images per class for the class accuracies). --real evaluates
training-part images (which the net has seen).
`;

/** The flag values runFolderEval reads (eval.ts's FLAGS). */
export interface FolderEvalFlags {
  model?: string | undefined;
  allowNonfinite: boolean;
  n: number;
  sampler?: string | undefined;
  steps?: number | undefined;
  sigmas?: SigmaScheduleName | undefined;
  guidance?: number | undefined;
  eta?: number | undefined;
  seed: number;
  batch?: number | undefined;
  samples?: string | undefined;
  real: boolean;
  blur?: number | undefined;
  noise?: number | undefined;
  featureNet?: string | undefined;
  noCas: boolean;
  casSteps: number;
  testN?: number | undefined;
  memorizationQuantile: number;
  out?: string | undefined;
  grid?: string | undefined;
}

export async function runFolderEval(folder: string, values: FolderEvalFlags, given: ReadonlySet<string>): Promise<void> {
  const source = values.samples !== undefined ? 'folder' : values.real ? 'real' : 'model';
  if (values.samples !== undefined && values.real) throw new DiffuseError('--samples and --real each choose what to evaluate; give one');
  if (given.has('testN')) throw new DiffuseError(`--test-n applies to the bundled datasets; with --data ${folder} the reference is the folder's held-out 20%`);
  if (source === 'model' && values.model === undefined) throw new DiffuseError(`--model DIR is required with --data ${folder} (the bundled models were trained on other data), or evaluate a folder of samples with --samples DIR, or real images with --real`);
  for (const flag of ['model', 'sampler', 'steps', 'sigmas', 'guidance', 'eta', 'batch'] as const) {
    if (source !== 'model' && given.has(flag)) throw new DiffuseError(`--${flag} applies when generating samples; with --${source === 'folder' ? 'samples' : 'real'} nothing is generated`);
  }
  if (source === 'folder' && given.has('n')) throw new DiffuseError('--n applies when generating or with --real; with --samples every image in the folder is evaluated');
  const log = (m: string) => process.stderr.write(`diffuse eval: ${m}\n`);

  // The image size: the feature net's, else the model's, else the folder's first image's.
  const rec = values.featureNet === undefined ? null : readDataSplit(values.featureNet);
  const modelFiles = values.model === undefined ? null : resolveModelDir(values.model);
  const model = modelFiles === null ? null : UNet2DModel.fromPretrained(modelFiles.unetDir, { allowNonfinite: values.allowNonfinite });
  const ss = model?.config.sampleSize;
  const modelSize = ss === undefined || ss === null ? null : typeof ss === 'number' ? ss : ss[0];
  const imageSize = values.featureNet !== undefined ? FeatureNet.fromPretrained(values.featureNet, { allowNonfinite: values.allowNonfinite }).config.imageSize : (modelSize ?? (await folderImageSize(folder)));
  if (modelSize !== null && modelSize !== imageSize) throw new DiffuseError(`--model ${values.model} makes ${modelSize}x${modelSize} images but --feature-net ${values.featureNet} takes ${imageSize}x${imageSize}; train a feature net at the model's size (diffuse train-feature-net --data ${folder} --image-size ${modelSize} --out DIR)`);
  const ds = await loadImageFolder(folder, { imageSize });
  const data = folderEvalData(ds, folder, rec?.seed ?? 0);
  const k = data.classNames.length;
  const net = values.featureNet !== undefined ? loadFolderFeatureNet(values.featureNet, data, { allowNonfinite: values.allowNonfinite }) : cachedFolderFeatureNet(data, ds, {}, log).net;
  const nDefault = Math.floor(data.floor.labels.length / k) * k;
  const n = given.has('n') ? values.n : nDefault;
  if (source !== 'folder' && (n % k !== 0 || n < k)) throw new DiffuseError(`--n must be a positive multiple of the ${k} classes of ${folder} (class-balanced samples), found ${n}`);

  const started = performance.now();
  let samples: LabelledImages;
  let generation: Record<string, unknown> | null = null;
  if (source === 'model') {
    const embeds = model!.config.numClassEmbeds;
    if (embeds === null) throw new DiffuseError(`${values.model} is unconditional (num_class_embeds is null); the folder evaluation needs a class-conditional model (or evaluate a labelled folder with --samples)`);
    if (embeds - 1 !== k) throw new DiffuseError(`${values.model} has ${embeds - 1} classes (+ the null class) but ${folder} has ${k} (${data.classNames.join(', ')}); evaluate it against the folder it was trained on`);
    if (model!.config.inChannels !== data.channels) throw new DiffuseError(`${values.model} makes ${model!.config.inChannels}-channel images but ${folder} holds ${data.channels}-channel ones`);
    const defaults = readSamplingConfig(modelFiles!.unetDir, schedulerNames());
    const choice = resolveSampling(defaults, { scheduler: values.sampler, steps: values.steps, guidanceScale: values.guidance }, FALLBACK_SCHEDULER);
    const schedName = choice.scheduler;
    if (!schedulerNames().includes(schedName)) throw new DiffuseError(`--sampler must be one of ${schedulerNames().join(', ')}, found '${schedName}'`);
    checkSchedulerFlags(schedName, values.sigmas, undefined);
    const schedConfig = modelFiles!.schedulerDir === null ? {} : readSchedulerConfig(modelFiles!.schedulerDir);
    const numTrainTimesteps = typeof schedConfig['num_train_timesteps'] === 'number' ? schedConfig['num_train_timesteps'] : undefined;
    const method = findMethod(schedName);
    const steps = choice.steps ?? (method === null ? FALLBACK_STEPS : (methodDefaultSteps(method, null, numTrainTimesteps === undefined ? {} : { numTrainTimesteps }) ?? FALLBACK_STEPS));
    const labels = Array.from({ length: n }, (_, i) => i % k);
    const bar = new ProgressBar({ total: n, label: 'generate', unit: 'img' });
    const batch = values.batch ?? 64;
    const result = generate({
      model: model!, scheduler: schedName, schedulerConfig: schedConfig,
      ...(values.sigmas === undefined ? {} : { sigmaSchedule: values.sigmas }),
      n, steps, seed: values.seed, batchSize: batch, guidanceScale: choice.guidanceScale, classLabels: labels,
      ...(values.eta === undefined ? {} : { eta: values.eta }),
      onProgress: ({ step, total }) => bar.update(Math.min(n, Math.round((step / total) * n))),
    });
    if (process.stderr.isTTY) bar.done();
    samples = { images: result.images, labels: Int32Array.from(labels) };
    generation = { model: values.model, sampler: schedName, steps, guidance: choice.guidanceScale, seed: values.seed };
  } else if (source === 'folder') {
    samples = await loadSampleFolder(values.samples!, { imageSize, channels: data.channels, classNames: data.classNames });
  } else {
    // Training-part images, class-balanced (as many per class as the part holds, up to n / K).
    const per = n / k;
    const idx: number[] = [];
    for (let c = 0; c < k; c++) {
      const members = Array.from(data.train.labels.keys()).filter((i) => data.train.labels[i] === c);
      if (members.length < per) throw new DiffuseError(`--real --n ${n}: class '${data.classNames[c]}' has ${members.length} training-part images, fewer than the ${per} per class n needs; lower --n`);
      idx.push(...members.slice(0, per));
    }
    samples = { images: folderImages(ds, Int32Array.from(idx, (i) => data.split.train[i]!)).images, labels: Int32Array.from(idx, (i) => data.train.labels[i]!) };
  }
  const generateSeconds = (performance.now() - started) / 1000;
  if (values.blur !== undefined) samples = { images: gaussianBlur(samples.images, values.blur), labels: samples.labels };
  if (values.noise !== undefined) samples = { images: addGaussianNoise(samples.images, values.noise, values.seed), labels: samples.labels };
  if (values.grid !== undefined) {
    mkdirSync(dirname(values.grid), { recursive: true });
    await writePngGrid(values.grid, sliceBatch(samples.images, 0, Math.min(100, samples.labels.length)), { nrow: 10 });
  }

  const progress = stagedProgress(evalStageUnit);
  const evalStarted = performance.now();
  const report = evaluateOnFolder(samples, data, {
    featureNet: net, seed: values.seed, cas: !values.noCas, casSteps: values.casSteps, memorizationQuantile: values.memorizationQuantile,
    onProgress: progress.onProgress,
  });
  progress.done();
  const json = {
    data: folder,
    source,
    ...(source === 'folder' ? { folder: values.samples } : {}),
    ...(generation === null ? {} : { generation }),
    ...(values.blur === undefined ? {} : { blur: values.blur }),
    ...(values.noise === undefined ? {} : { noise: values.noise }),
    featureNet: { dir: values.featureNet ?? 'cache' },
    ...report,
    seconds: { generate: Math.round(generateSeconds), evaluate: Math.round((performance.now() - evalStarted) / 1000) },
    threads: engineInfo().threads,
  };
  const text = `${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2)}\n`;
  if (values.out !== undefined) {
    mkdirSync(dirname(values.out), { recursive: true });
    writeJSONAtomic(values.out, JSON.parse(text) as unknown);
  }
  process.stderr.write(formatReport(report, data.classNames));
  for (const w of report.warnings) process.stderr.write(`diffuse eval: warning: ${w}\n`);
  process.stdout.write(text);
}
