/**
 * `diffuse eval --bpd`: test-set bits/dim of a trained model, by the variational bound of the
 * discrete-time model (diffusion/vlb.ts, vlb_bpd.ts; Ho et al. 2020, Nichol & Dhariwal 2021) or,
 * with --method ode, by the probability-flow ODE (sde/likelihood.ts; Song et al. 2021). Prints
 * the mean with a 95% confidence interval over images, writes a JSON report and a figure of the
 * bits per timestep. `diffuse eval` (eval.ts) delegates here when --bpd is given.
 */
import { existsSync } from 'node:fs';
import { ArgumentError, DiffuseError, UsageError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { Generator } from '../../tensor/random.js';
import { noGrad } from '../../tensor/autograd.js';
import { loadDataset, type Dataset, type Split } from '../../data/index.js';
import { DDPMScheduler } from '../../schedulers/ddpm.js';
import { DiffusionVlb, type VlbVarianceType } from '../../diffusion/vlb.js';
import { vlbBitsPerDim, type VlbBpdResult } from '../../diffusion/vlb_bpd.js';
import { writeJSONAtomic } from '../../io/checkpoint.js';
import { writeLineChartPng } from '../../io/plot.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg, type LoadedModel } from '../model_arg.js';
import { sdeFromConfig } from '../../sde/config.js';
import { odeLikelihoodOfModel, TRACE_ESTIMATORS, type TraceEstimator } from '../../sde/likelihood.js';
import { parseFlags } from '../../schema/flags.js';
import { boolField, described, enumField, intField, numberField, optional, stringField, type Field } from '../../schema/field.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, MODEL_FLAG, SEED_FLAG, countFlag, formatFlagHelp, pathFlag, ALLOW_NONFINITE_FLAG } from '../flags.js';

/** Likelihood methods. */
export type BpdMethod = 'vlb' | 'ode';
export const BPD_METHODS: readonly BpdMethod[] = ['vlb', 'ode'];

/** K of --timesteps-per-image when not given. */
const DEFAULT_TIMESTEPS_PER_IMAGE = 50;

/** --timesteps-per-image: an integer >= 2, or 'all'. */
function timestepsPerImageField(): Field<number | 'all'> {
  const k = intField('timesteps_per_image', 2, 2);
  return { ...k, parse: (v) => (v === 'all' ? 'all' : k.parse(v)), parseText: (t) => (t === 'all' ? 'all' : k.parseText!(t)), toJson: (v) => v };
}

/** The flags of `diffuse eval --bpd`. */
const FLAGS = {
  bpd: described(boolField('bpd', false), 'Evaluate the likelihood instead of sample quality.'),
  model: { ...MODEL_FLAG, doc: 'A run folder, checkpoint, pipeline or U-Net folder.' },
  allowNonfinite: ALLOW_NONFINITE_FLAG,
  data: described(optional(stringField('data', '')), 'fashion-mnist | mnist | an image folder of 8-bit images.', { metavar: 'D', defaultText: "the model's training data" }),
  split: described({ ...enumField<Split>('split', ['test', 'train'], 'test'), allowed: 'test or train' }, 'test | train (bundled datasets only).', { metavar: 'S' }),
  n: countFlag('n', 256, 1, 'Images, evenly spaced over the split so every class is in.'),
  batch: countFlag('batch', 64, 1, 'Images per model call.', 'B'),
  method: described(
    enumField<BpdMethod>('method', BPD_METHODS, 'vlb'),
    "vlb: the variational bound of the discrete-time model, Ho et al. eq. 5 with the 8-bit discretized decoder (no dequantization: a bound on the discrete data's bits). ode: the probability-flow ODE likelihood with uniform dequantization (Song et al. 2021), a bound on the discrete data's bits too.",
    { metavar: 'M' },
  ),
  timestepsPerImage: described(
    optional(timestepsPerImageField(), String(DEFAULT_TIMESTEPS_PER_IMAGE)),
    'vlb only. all: the exact sum over all T timesteps (T model calls per image; its CI covers the images and the x_t noise). K in [2, T]: an unbiased stratified estimate with K model calls per image (t = 0 always, then one t drawn in each of K - 1 strata of 1..T-1 that widen geometrically, weighted by their size); its CI also covers the timestep sampling.',
    { metavar: 'K' },
  ),
  noClip: described(boolField('no_clip', false), 'vlb only: do not clip the predicted x_0 to [-1, 1] (improved-diffusion clips by default).'),
  conditional: described(boolField('conditional', false), 'Class-conditional models: give each image its true label (log p(x | y)); otherwise the null class (the unconditional log p(x)).'),
  seed: { ...SEED_FLAG, doc: 'Timestep, noise and probe draws.' },
  rtol: described(optional(numberField('rtol', 1e-5, 0, 1, true), '1e-5'), 'ode only: RK45 relative tolerance, a number in (0, 1].', { metavar: 'X' }),
  atol: described(optional(numberField('atol', 1e-5, 0, 1, true), '1e-5'), 'ode only: RK45 absolute tolerance, a number in (0, 1].', { metavar: 'X' }),
  estimator: described(optional(enumField<TraceEstimator>('estimator', TRACE_ESTIMATORS, 'rademacher'), 'rademacher'), 'ode only: Hutchinson probes.', { metavar: 'E' }),
  out: pathFlag('out', 'Write the report (per-image bits, per-timestep terms, timing).', 'FILE.json'),
  plot: pathFlag('plot', 'vlb only: the mean bits/dim of L_t against t (log scale).', 'FILE.png'),
  maxMemory: MAX_MEMORY_FLAG,
} as const;

export const bpdHelp = `Likelihood (--bpd): bits/dim of the test images, mean ± 1.96 SE over images
  diffuse eval --bpd --model M --data fashion-mnist [--n N] [--method vlb|ode] [--out report.json] [--plot bits-per-t.png]

${formatFlagHelp(FLAGS)}`;

/** Parsed and checked flags. */
export interface BpdArgs {
  model: string | undefined;
  /** --allow-nonfinite. */
  allowNonfinite: boolean;
  data: string | undefined;
  split: Split;
  n: number;
  batch: number;
  method: BpdMethod;
  timestepsPerImage: number | 'all';
  clip: boolean;
  conditional: boolean;
  seed: number;
  rtol: number | undefined;
  atol: number | undefined;
  estimator: TraceEstimator | undefined;
  out: string | undefined;
  plot: string | undefined;
}

/** Parses the flags; every error is raised here, before any work. */
export function parseBpdArgs(argv: string[]): BpdArgs {
  const { values: v, positionals } = parseFlags(FLAGS, argv, { allowPositionals: true, command: 'eval --bpd' });
  applyMaxMemory(v.maxMemory);
  if (positionals.length > 0) throw new UsageError(`eval --bpd: unexpected argument '${positionals[0]}' (flags take the form --name value)`);
  const { method, split } = v;
  if (v.data !== undefined && v.data !== 'fashion-mnist' && v.data !== 'mnist' && !existsSync(v.data)) {
    throw new UsageError(`eval --bpd: --data '${v.data}' is neither 'fashion-mnist', 'mnist' nor an existing folder`);
  }
  let K: number | 'all' = DEFAULT_TIMESTEPS_PER_IMAGE;
  const k = v.timestepsPerImage;
  if (k !== undefined) {
    if (method !== 'vlb') throw new UsageError('eval --bpd: --timesteps-per-image applies to --method vlb only');
    K = k;
  }
  const estimator = v.estimator;
  if (method === 'vlb' && (v.rtol !== undefined || v.atol !== undefined || estimator !== undefined)) throw new UsageError('eval --bpd: --rtol, --atol and --estimator apply to --method ode only');
  if (method === 'ode' && (v.noClip || v.plot !== undefined)) throw new UsageError('eval --bpd: --no-clip and --plot apply to --method vlb only');
  for (const [name, path] of [['out', v.out], ['plot', v.plot]] as const) {
    if (path !== undefined && path.trim() === '') throw new UsageError(`eval --bpd: --${name} needs a file path`);
  }
  if (v.plot !== undefined && !v.plot.toLowerCase().endsWith('.png')) throw new UsageError(`eval --bpd: --plot writes a PNG; give a path ending in .png, found '${v.plot}'`);
  return {
    model: v.model,
    allowNonfinite: v.allowNonfinite,
    data: v.data,
    split,
    n: v.n,
    batch: v.batch,
    method,
    timestepsPerImage: K,
    clip: !v.noClip,
    conditional: v.conditional,
    seed: v.seed,
    rtol: v.rtol,
    atol: v.atol,
    estimator,
    out: v.out,
    plot: v.plot,
  };
}

/** The bound's variance type for a DDPMScheduler variance_type. */
export function vlbVarianceOf(schedulerVariance: string): VlbVarianceType {
  switch (schedulerVariance) {
    case 'fixed_small':
    case 'fixed_small_log':
      return 'fixed_small';
    case 'fixed_large':
    case 'fixed_large_log':
      return 'fixed_large';
    case 'learned':
      return 'learned';
    case 'learned_range':
      return 'learned_range';
    default:
      throw new ArgumentError(`eval --bpd: unknown variance_type ${JSON.stringify(schedulerVariance)} in the model's scheduler config`);
  }
}

/** n images evenly spaced over the dataset (class-major datasets then give every class), and their labels. */
function pickImages(ds: Dataset, n: number): { x: Tensor; labels: Int32Array | null } {
  if (n > ds.length) throw new UsageError(`eval --bpd: --n ${n} is more than the ${ds.length} images of '${ds.name}'`);
  const per = ds.imageSize * ds.imageSize * ds.channels;
  const x = new Float32Array(n * per);
  const labels = ds.numClasses === null ? null : new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const s = ds.get(Math.floor((k * ds.length) / n));
    x.set(s.image, k * per);
    if (labels !== null) labels[k] = s.label ?? 0;
  }
  return { x: new Tensor(x, [n, ds.imageSize, ds.imageSize, ds.channels]), labels };
}

/** Labels for the model: true ones, the null class, or null for an unconditional model. */
function modelLabels(loaded: LoadedModel, labels: Int32Array | null, conditional: boolean, n: number): Int32Array | null {
  const k = loaded.model.config.numClassEmbeds;
  if (k === null) {
    if (conditional) throw new UsageError('eval --bpd: --conditional needs a class-conditional model; this one has no class embedding');
    return null;
  }
  if (!conditional) return new Int32Array(n).fill(k - 1);
  if (labels === null) throw new UsageError('eval --bpd: --conditional needs labelled data');
  return labels;
}

/** The VLB figure: mean L_t per stratum (per t for the exact sum), log y. */
async function plotTerms(path: string, r: VlbBpdResult, title: string): Promise<void> {
  const pts = r.strata.map((s) => [s.end - s.start === 1 ? s.start : (s.start + s.end - 1) / 2, s.meanTerm] as const);
  await writeLineChartPng(path, {
    title,
    xLabel: 'timestep t (0 = decoder term L_0)',
    yLabel: 'bits/dim of L_t',
    logY: true,
    series: [{ name: r.strata.every((s) => s.end - s.start === 1) ? 'L_t' : 'stratum means', points: pts }],
  });
}

export async function runBpd(argv: string[]): Promise<void> {
  const a = parseBpdArgs(argv);
  const loaded = loadModelArg(a.model, { allowNonfinite: a.allowNonfinite });
  const data = a.data ?? loaded.data;
  if (data === null) throw new UsageError("eval --bpd: --data is required (the model's folder does not record its training data)");
  const ss = loaded.model.config.sampleSize;
  const size = ss === null ? undefined : typeof ss === 'number' ? ss : ss[0];
  const ds = await loadDataset(data, size === undefined ? { split: a.split } : { split: a.split, imageSize: size });
  const { x, labels: trueLabels } = pickImages(ds, a.n);
  const labels = modelLabels(loaded, trueLabels, a.conditional, a.n);
  const gen = new Generator(a.seed);
  const C = ds.channels;
  const start = performance.now();
  const report: Record<string, unknown> = { method: a.method, model: loaded.path, data, split: a.split, n: a.n, seed: a.seed, labels: labels === null ? 'none' : a.conditional ? 'true labels: log p(x|y)' : 'null class: log p(x)' };

  if (a.method === 'ode') {
    if (loaded.model.config.outChannels !== C) throw new UsageError(`eval --bpd: --method ode needs a model that outputs the data's ${C} channel(s) (a score model); this one outputs ${loaded.model.config.outChannels} (a learned-variance model: use --method vlb)`);
    const sde = sdeFromConfig(loaded.schedulerConfig);
    const bar = new ProgressBar({ total: a.n, label: 'bpd (ode)', unit: 'img' });
    const r = odeLikelihoodOfModel(sde, loaded.model, x, {
      dequantize: true,
      classLabels: labels,
      batchSize: a.batch,
      generator: gen,
      ...(a.rtol !== undefined ? { rtol: a.rtol } : {}),
      ...(a.atol !== undefined ? { atol: a.atol } : {}),
      ...(a.estimator !== undefined ? { estimator: a.estimator } : {}),
      onBatch: (done) => bar.update(done),
    });
    if (process.stderr.isTTY) bar.done();
    Object.assign(report, { bpd: { mean: r.mean, ci95: r.ci95 }, meanNfe: r.meanNfe, nfe: r.nfe, rtol: r.rtol, atol: r.atol, estimator: r.estimator, seconds: r.seconds, perImage: Array.from(r.bpd) });
    process.stdout.write(`${r.mean.toFixed(4)} ± ${r.ci95.toFixed(4)} bits/dim (probability-flow ODE, dequantized; ${a.n} ${a.split} images, mean NFE ${r.meanNfe.toFixed(0)}, ${r.seconds.toFixed(0)} s)\n`);
  } else {
    const sched = new DDPMScheduler(loaded.schedulerConfig);
    const varianceType = vlbVarianceOf(sched.config.varianceType);
    const vlb = new DiffusionVlb(sched.alphasCumprod, { predictionType: sched.config.predictionType, varianceType, clipDenoised: a.clip });
    const outC = vlb.outputChannels(C);
    if (loaded.model.config.outChannels !== outC) {
      throw new ArgumentError(`eval --bpd: the scheduler's variance_type '${sched.config.varianceType}' needs a U-Net with out_channels ${outC} for ${C}-channel data, found ${loaded.model.config.outChannels}`);
    }
    const K = a.timestepsPerImage === 'all' ? vlb.numTimesteps : a.timestepsPerImage;
    if (K > vlb.numTimesteps) throw new UsageError(`eval --bpd: --timesteps-per-image ${K} exceeds the model's ${vlb.numTimesteps} timesteps (use 'all' for the exact sum)`);
    const bar = new ProgressBar({ total: Math.ceil(a.n / a.batch) * K, label: 'bpd (vlb)', unit: 'call' });
    const model = (xt: Tensor, t: Float64Array, s: number): Tensor => noGrad(() => loaded.model.forward(xt, Float32Array.from(t), labels === null ? null : labels.subarray(s, s + t.length)));
    const r = vlbBitsPerDim(model, vlb, x, { generator: gen, timestepsPerImage: K, batchSize: a.batch, onProgress: ({ step }) => bar.update(step) });
    if (process.stderr.isTTY) bar.done();
    const seconds = (performance.now() - start) / 1000;
    const exact = K === vlb.numTimesteps;
    const mean = (v: Float64Array): number => v.reduce((s, y) => s + y, 0) / v.length;
    Object.assign(report, {
      bpd: { mean: r.mean, ci95: r.ci95 },
      estimator: exact ? 'exact sum over all timesteps' : `stratified, ${K} timesteps per image`,
      timestepsPerImage: K,
      varianceType,
      predictionType: sched.config.predictionType,
      clipDenoised: a.clip,
      priorBpd: mean(r.prior),
      decoderBpd: mean(r.decoder),
      strata: r.strata,
      modelCalls: r.modelCalls,
      seconds,
      perImage: Array.from(r.bpd),
    });
    process.stdout.write(
      `${r.mean.toFixed(4)} ± ${r.ci95.toFixed(4)} bits/dim (variational bound, ${exact ? 'exact sum over t' : `${K} timesteps/image, stratified`}; ${a.n} ${a.split} images; ` +
        `L_0 ${mean(r.decoder).toFixed(3)}, prior ${mean(r.prior).toExponential(2)}; ${r.modelCalls} model calls, ${seconds.toFixed(0)} s)\n`,
    );
    if (a.plot !== undefined) {
      await plotTerms(a.plot, r, `VLB ${r.mean.toFixed(3)} ± ${r.ci95.toFixed(3)} bits/dim: where the bits go (${a.n} ${a.split} images)`);
      process.stderr.write(`figure: ${a.plot}\n`);
    }
  }
  if (a.out !== undefined) {
    writeJSONAtomic(a.out, report);
    process.stderr.write(`report: ${a.out}\n`);
  }
  if (!Number.isFinite(report.bpd === undefined ? NaN : (report.bpd as { mean: number }).mean)) throw new DiffuseError('eval --bpd: the result is not finite (see the report)');
}
