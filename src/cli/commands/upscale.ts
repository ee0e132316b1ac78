/**
 * `diffuse upscale`: super-resolution with an SR3 model (a thin client of pipelines/superres):
 * one low-resolution PNG in, its upscaled PNG out; or, with --eval, PSNR/SSIM of the model and of
 * bicubic upsampling on held-out images degraded as in training, printed as JSON.
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { writePng, writePngGrid } from '../../io/png.js';
import { loadDataset } from '../../data/index.js';
import { upscale, loadSuperresModel, evaluateUpscale } from '../../pipelines/superres.js';
import { DEFAULT_BATCH_SIZE } from '../../sampling/common_options.js';
import { schedulerNames } from '../../sampling/registry.js';
import { plannedLoops } from '../../sampling/reverse_process.js';
import { bicubicResize } from '../../data/resample.js';
import { ProgressBar } from '../progress.js';
import { readSamplingConfig, resolveSampling } from '../../io/sampling_config.js';
import { checkSchedulerFlags, readImageFlag } from '../edit_flags.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, ETA_FLAG, FALLBACK_SCHEDULER, FALLBACK_STEPS, SEED_FLAG, SIGMAS_FLAG, batchFlag, countFlag, formatFlagHelp, parseCommandFlags, pathFlag, schedulerFlag, stepsFlag, ALLOW_NONFINITE_FLAG } from '../flags.js';
import { boolField, described, optional, stringField } from '../../schema/field.js';
import { join } from 'node:path';
import { packageRoot } from '../../io/package_root.js';
import { FeatureNet } from '../../eval/feature_net.js';
import { accuracyOf } from '../../eval/accuracy.js';
import { frechetDistance } from '../../eval/frechet.js';
import { labelledFromDataset } from '../../eval/labelled_images.js';

const FLAGS = {
  model: pathFlag('model', 'The SR3 model (required).', 'DIR'),
  allowNonfinite: ALLOW_NONFINITE_FLAG,
  image: pathFlag('image', "A low-resolution PNG/JPEG (its size times the scale must be the model's size)."),
  out: pathFlag('out', 'The upscaled PNG to write.'),
  scheduler: schedulerFlag(),
  sigmas: SIGMAS_FLAG,
  steps: stepsFlag(),
  eta: ETA_FLAG,
  seed: SEED_FLAG,
  batch: batchFlag(DEFAULT_BATCH_SIZE),
  eval: described(
    boolField('eval', false),
    'Measure instead: take --n held-out images of --data (evenly spaced over the test split of fashion-mnist/mnist, or over a folder), area-downsample them by the scale as training did, upscale them, and print JSON with the mean PSNR (dB) and SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, on [0, 1]) of SR3 and of bicubic upsampling against the originals.',
  ),
  data: described(optional(stringField('data', ''), 'fashion-mnist'), "--eval's data.", { metavar: 'SRC' }),
  n: described(optional(countFlag('n', 500, 1, "--eval's image count."), '500'), "--eval's image count.", { metavar: 'N' }),
  json: pathFlag('json', '--eval: also write the JSON (with per-image values) to FILE.'),
  grid: pathFlag('grid', '--eval: also write 8 of the images (spread over the set) as rows LR | bicubic | SR3 | HR.'),
  featureNet: pathFlag('feature_net', "--eval on fashion-mnist or mnist: the judge, whose accuracy on the originals, bicubic and SR3 images and whose Frechet distance from each set to the originals (beside n real train images') the JSON adds.", 'DIR', 'models/feature-nets/<data>/'),
  maxMemory: MAX_MEMORY_FLAG,
} as const;

/**
 * The flip-free feature net's view of the upscaled set: its accuracy on the originals, bicubic
 * and SR3 images (their true classes), and the Frechet distance from each to the originals in its
 * features, beside the floor: n real train images (evenly spaced) against the same originals.
 */
async function judgeUpscale(data: 'fashion-mnist' | 'mnist', dir: string | undefined, sets: Record<'original' | 'bicubic' | 'sr3', Tensor>, labels: Int32Array, n: number): Promise<Record<string, unknown>> {
  const fnDir = dir ?? join(packageRoot(), 'models', 'feature-nets', data);
  const net = FeatureNet.fromPretrained(fnDir);
  const d = net.featureDim;
  const train = await loadDataset(data, { split: 'train' });
  const floor = labelledFromDataset(train, Int32Array.from({ length: Math.min(n, train.length) }, (_, i) => i * Math.floor(train.length / Math.min(n, train.length))));
  const original = net.embed(sets.original);
  const accuracy: Record<string, number> = {};
  const frechetToOriginals: Record<string, number> = {};
  for (const [name, images] of Object.entries(sets)) {
    const e = name === 'original' ? original : net.embed(images);
    accuracy[name] = accuracyOf(e.predictions, labels, net.config.numClasses).accuracy;
    if (name !== 'original' && n >= 2) frechetToOriginals[name] = frechetDistance(e.features, n, original.features, n, d);
  }
  // A Gaussian needs two images; with one, the accuracies alone.
  if (n < 2) return { featureNet: fnDir, accuracy };
  frechetToOriginals['realTrainFloor'] = frechetDistance(net.embed(floor.images).features, floor.labels.length, original.features, n, d);
  return { featureNet: fnDir, accuracy, frechetToOriginals };
}

export const summary = 'Super-resolve images with an SR3 model (diffuse train --task superres); --eval: PSNR/SSIM vs bicubic.';

export const help = `diffuse upscale: super-resolution with an SR3 model

Usage: diffuse upscale --model M --image low.png --out high.png [options]
       diffuse upscale --model M --eval [--data fashion-mnist] [--n 500] [--json FILE] [--grid FILE]

The model is a run folder, checkpoint or pipeline folder trained with
'diffuse train --task superres --scale S' (its superres.json records the factor). The input is
bicubic-upsampled by S and concatenated to x_t at every step of the reverse process.

Options:
${formatFlagHelp(FLAGS)}`;

const mean = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

/** Nearest-neighbour enlargement by an integer factor (to show a low-resolution image at full size). */
function nearest(x: Tensor, s: number): Tensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = new Float32Array(n * h * s * w * s * c);
  const xs = x.toArray();
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h * s; i++)
      for (let j = 0; j < w * s; j++)
        for (let k = 0; k < c; k++) out[((b * h * s + i) * w * s + j) * c + k] = xs[((b * h + Math.floor(i / s)) * w + Math.floor(j / s)) * c + k]!;
  return new Tensor(out, [n, h * s, w * s, c]);
}

export async function run(argv: string[]): Promise<void> {
  const { values: v } = parseCommandFlags('upscale', FLAGS, argv);
  applyMaxMemory(v.maxMemory);
  if (v.model === undefined || v.model === '') throw new UsageError('--model DIR (an SR3 model: diffuse train --task superres) is required');
  const evalMode = v.eval;
  if (evalMode) {
    if (v.image !== undefined || v.out !== undefined) throw new UsageError('--eval measures on --data; drop --image and --out (or drop --eval to upscale one image)');
  } else {
    if (v.image === undefined || v.image === '') throw new UsageError('--image FILE (the low-resolution image) is required (or --eval)');
    if (v.out === undefined || v.out === '') throw new UsageError('--out FILE (the upscaled PNG to write) is required');
    for (const k of ['data', 'n', 'json', 'grid', 'featureNet'] as const) if (v[k] !== undefined) throw new UsageError(`--${k} applies to --eval only`);
  }
  if (v.scheduler !== undefined) checkSchedulerFlags(v.scheduler, v.sigmas, v.eta);
  const { seed, eta } = v;
  const batch = v.batch ?? DEFAULT_BATCH_SIZE;
  const n = v.n ?? 500;

  const sr = loadSuperresModel(v.model, { allowNonfinite: v.allowNonfinite });
  // The one rule for sampling defaults: flags, then the model's sampling_config.json, then ddim.
  const choice = resolveSampling(readSamplingConfig(sr.unetDir, schedulerNames()), { scheduler: v.scheduler }, FALLBACK_SCHEDULER);
  const schedName = choice.scheduler;
  if (v.scheduler === undefined) checkSchedulerFlags(schedName, v.sigmas, v.eta);
  const steps = v.steps ?? choice.steps ?? FALLBACK_STEPS;
  const perChunk = plannedLoops(schedName, steps, sr.schedulerConfig);
  const common = {
    model: sr.model,
    scale: sr.scale,
    scheduler: schedName,
    schedulerConfig: sr.schedulerConfig,
    steps,
    seed,
    batchSize: batch,
    ...(v.sigmas === undefined ? {} : { sigmaSchedule: v.sigmas }),
    ...(eta === undefined ? {} : { eta }),
  };

  if (!evalMode) {
    // The header is checked against the model's input size before any pixel is decoded.
    const ss = sr.model.config.sampleSize;
    const hr: readonly [number, number] | null = ss === null ? null : typeof ss === 'number' ? [ss, ss] : ss;
    const img = await readImageFlag('image', v.image!, hr === null || hr[0] % sr.scale !== 0 || hr[1] % sr.scale !== 0 ? null : [hr[0] / sr.scale, hr[1] / sr.scale], `its sample_size ${hr?.[0]}x${hr?.[1]} divided by its scale ${sr.scale}`);
    const bar = new ProgressBar({ total: perChunk, label: 'upscale', unit: 'step' });
    const { images } = upscale({ ...common, image: img, onProgress: ({ step }) => bar.update(step) });
    if (process.stderr.isTTY) bar.done();
    await writePng(v.out!, images);
    process.stdout.write(`wrote ${v.out} (${images.shape[1]}x${images.shape[2]}x${images.shape[3]}, from ${img.shape[0]}x${img.shape[1]}, scale ${sr.scale})\n`);
    return;
  }

  const data = v.data ?? 'fashion-mnist';
  const size = sr.model.config.sampleSize;
  const imageSize = typeof size === 'number' ? size : size === null ? undefined : size[0];
  const ds = await loadDataset(data, { ...(data === 'fashion-mnist' || data === 'mnist' ? { split: 'test' as const } : {}), ...(imageSize === undefined ? {} : { imageSize }) });
  if (n > ds.length) throw new UsageError(`--n ${n} exceeds the ${ds.length} images of '${ds.name}'`);
  const first = ds.get(0).image;
  const per = first.length;
  const hr = new Float32Array(n * per); // (N, H, W, C)
  const labels = new Int32Array(n);
  const stride = Math.floor(ds.length / n);
  for (let i = 0; i < n; i++) {
    const { image, label } = ds.get(i * stride);
    hr.set(image, i * per);
    labels[i] = label ?? -1;
  }
  const hrT = new Tensor(hr, [n, ds.imageSize, ds.imageSize, ds.channels]);
  const bar = new ProgressBar({ total: Math.ceil(n / batch) * perChunk, label: 'upscale', unit: 'step' });
  const t0 = performance.now();
  const e = evaluateUpscale({ ...common, hr: hrT, onProgress: ({ step }) => bar.update(step) });
  if (process.stderr.isTTY) bar.done();
  const seconds = (performance.now() - t0) / 1000;
  const summaryJson = {
    model: v.model,
    data: ds.name,
    n,
    scale: sr.scale,
    lowRes: `${ds.imageSize / sr.scale}x${ds.imageSize / sr.scale}`,
    highRes: `${ds.imageSize}x${ds.imageSize}`,
    scheduler: schedName,
    steps,
    seed,
    sr3: { psnr: mean(e.sr.psnr), ssim: mean(e.sr.ssim) },
    bicubic: { psnr: mean(e.bicubic.psnr), ssim: mean(e.bicubic.ssim) },
    sr3BetterPsnrFraction: e.sr.psnr.filter((p, i) => p > e.bicubic.psnr[i]!).length / n,
    ...(data === 'fashion-mnist' || data === 'mnist' ? { judge: await judgeUpscale(data, v.featureNet, { original: hrT, bicubic: e.bicubicImages, sr3: e.images }, labels, n) } : {}),
    seconds,
  };
  process.stdout.write(`${JSON.stringify(summaryJson, null, 2)}\n`);
  if (v.json !== undefined) writeFileSync(v.json, `${JSON.stringify({ ...summaryJson, perImage: { sr3: e.sr, bicubic: e.bicubic } })}\n`);
  if (v.grid !== undefined) {
    const k = Math.min(8, n);
    const s = sr.scale;
    const [H, W, C] = [ds.imageSize, ds.imageSize, ds.channels];
    const slice = (t: Tensor, i: number): Float32Array => t.toArray().subarray(i * H * W * C, (i + 1) * H * W * C);
    const lrBig = nearest(e.lowRes, s);
    const bic = bicubicResize(e.lowRes, H, W);
    const tiles = new Float32Array(4 * k * H * W * C); // rows of LR | bicubic | SR3 | HR
    // k images spread over the evaluated set (the bundled test splits are class-major).
    for (let i = 0; i < k; i++) [lrBig, bic, e.images, hrT].forEach((t, j) => tiles.set(slice(t, i * Math.floor(n / k)), (4 * i + j) * H * W * C));
    await writePngGrid(v.grid, new Tensor(tiles.map((x) => Math.min(1, Math.max(-1, x))), [4 * k, H, W, C]), { nrow: 4 });
    process.stderr.write(`wrote ${v.grid} (rows: low-res | bicubic | SR3 | original)\n`);
  }
}
