/**
 * DiffusionPipeline: a model folder as one object, as diffusers' DiffusionPipeline.from_pretrained
 * makes it in Python. `await DiffusionPipeline.fromPretrained(dirOrName)` loads the U-Net, its
 * scheduler config, the folder's sampling defaults (sampling_config.json, io/sampling_config.ts)
 * and its class names (io/model_class_names.ts); the bundled models load by name. Every call is
 * async and runs on a worker thread (pipelines/async.ts): the event loop stays free, `signal`
 * cancels within a model evaluation with an AbortError, `onProgress` reports each step, and the
 * images equal the synchronous pipelines' for the same seed. What a call leaves out comes from
 * the folder, by the one rule of resolveSampling: the call wins, then sampling_config.json (its
 * steps only with its own scheduler), then 'ddim' with its usual steps and guidance 1.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ArgumentError, DiffuseError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';
import type { SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import { resolveModelDir } from '../io/model_folder.js';
import { readSchedulerConfig } from '../io/checkpoint.js';
import { readSamplingConfig, resolveSampling, type SamplingConfig } from '../io/sampling_config.js';
import { modelClassNames, classIndex } from '../io/model_class_names.js';
import { bundledModelPath, isBundledModelName, BUNDLED_MODEL_NAMES } from '../io/bundled_models.js';
import type { NonfiniteOptions } from '../io/nonfinite.js';
import { FALLBACK_SCHEDULER, DEFAULT_STEPS, findMethod, methodDefaultSteps, schedulerNames, type SchedulerChoice } from '../sampling/registry.js';
import type { ProgressHandler } from '../sampling/progress.js';
import { superresInfoOf } from './superres.js';
import type { SuperresInfo } from '../train/objectives/superres.js';
import type { Box, InpaintMethod } from './inpaint.js';
import { generateAsync, img2imgAsync, inpaintAsync, upscaleAsync } from './async.js';
import { GeneratedImages, type GenerationSettings } from './generated_images.js';

/** A class: its index, or its name where the model folder names its classes ('Sneaker', 'ankle boot'). */
export type ClassLabel = number | string;

/** What every pipeline call takes; anything left out comes from the model folder. */
export interface PipelineCallOptions {
  /** A scheduler or sampler name ('dpmpp_2m', 'ddim', 'unipc', ...), a scheduler instance or a SAMPLERS entry. Default: the folder's sampling_config.json, else 'ddim'. */
  scheduler?: SchedulerChoice;
  /** Reverse steps. Default: the folder's, when its scheduler is used, else the scheduler's usual count. */
  steps?: number;
  /** Seed of the noise (default: a random one, reported in the result's settings). */
  seed?: number | bigint;
  /** Or a generator (advanced past every stream used). */
  generator?: Generator;
  /** Cancels the call (it rejects with an AbortError within the current model evaluation). */
  signal?: AbortSignal;
  /** Called after every step with { step, total, x, x0Preview }. */
  onProgress?: ProgressHandler;
  /** Images per forward pass (default 16); results do not depend on it. */
  batchSize?: number;
  /** DDIM's eta, or a stochastic sampler's. */
  eta?: number;
  /** A sampler's sigma schedule (default 'karras'). */
  sigmaSchedule?: SigmaScheduleName;
  /** Extra options of the sampler (e.g. { sChurn: 10 }). */
  samplerOptions?: Readonly<Record<string, unknown>>;
}

/** Class labels and guidance, for the class-conditional calls. */
export interface PipelineClassOptions {
  /** One class for all images or one per image, by index or name. Default: image i gets class i mod the number of classes. */
  classLabels?: ClassLabel | readonly ClassLabel[];
  /** Classifier-free guidance weight (1: none). Default: the folder's guidance_scale, else 1. */
  guidance?: number;
}

/** Options of `pipe.generate`. */
export interface PipelineGenerateOptions extends PipelineCallOptions, PipelineClassOptions {
  /** Number of images (default 1). */
  n?: number;
}

/** Options of `pipe.img2img`. */
export interface PipelineImg2ImgOptions extends PipelineCallOptions, PipelineClassOptions {
  /** The input: (H, W, C) or (N, H, W, C) in [-1, 1] (readPng(path) gives one). */
  image: Tensor;
  /** The fraction of the schedule to run, in [0, 1]. */
  strength: number;
  /** Variations of a single input image (default 1). */
  n?: number;
}

/** Options of `pipe.inpaint`. */
export interface PipelineInpaintOptions extends PipelineCallOptions, PipelineClassOptions {
  /** The image(s) to complete: (H, W, C) or (N, H, W, C) in [-1, 1]. */
  image: Tensor;
  /** Which pixels are known, as `inpaint` takes it; or give `box`. */
  mask?: Tensor;
  /** The rectangle to generate (everything else is kept). */
  box?: Box;
  method?: InpaintMethod;
  jumpLength?: number;
  jumpNSample?: number;
  /** Completions of a single input image (default 1). */
  n?: number;
}

/** Options of `pipe.upscale` (a super-resolution pipeline). */
export interface PipelineUpscaleOptions extends PipelineCallOptions {
  /** Low-resolution images (N, h, w, C) or one (h, w, C), in [-1, 1]. */
  image: Tensor;
}

/** Options of `DiffusionPipeline.fromPretrained`. */
export type PipelineLoadOptions = NonfiniteOptions;

/** A random seed in [0, 2^32) for a call given neither seed nor generator. */
function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** A model folder loaded for sampling: see the file comment. */
export class DiffusionPipeline {
  private constructor(
    /** The folder it was loaded from. */
    readonly path: string,
    /** The U-Net's folder. */
    readonly unetDir: string,
    /** The denoiser (eval mode). */
    readonly unet: UNet2DModel,
    /** scheduler_config.json ({} without one: diffusers' DDPM defaults). */
    readonly schedulerConfig: DiffusersConfig,
    /** The folder's sampling defaults (sampling_config.json; guidance 1 without one). */
    readonly samplingConfig: Readonly<SamplingConfig>,
    /** The class names, where the folder records them; else null. */
    readonly classNames: readonly string[] | null,
    /** The super-resolution settings of an SR3 model (superres.json), else null. */
    readonly superres: SuperresInfo | null,
  ) {}

  /**
   * Loads a model folder (a pipeline folder, run folder, checkpoint or bare U-Net folder) or a
   * bundled model by name ('fashion-mnist', 'mnist', 'fashion-mnist-sr2').
   * @example
   * const pipe = await DiffusionPipeline.fromPretrained('fashion-mnist');
   * const images = await pipe.generate({ n: 2, classLabels: 'Sneaker', steps: 4, seed: 0 });
   * await images.save('sneakers.png');
   */
  static async fromPretrained(pathOrName: string, options: PipelineLoadOptions = {}): Promise<DiffusionPipeline> {
    if (typeof pathOrName !== 'string' || pathOrName === '') throw new ArgumentError(`DiffusionPipeline.fromPretrained: expected a model folder or a bundled model's name (${BUNDLED_MODEL_NAMES.join(', ')}), found ${JSON.stringify(pathOrName)}`);
    // A folder of that name wins over a bundled model (as diffusers prefers a local folder to the Hub).
    const dir = !existsSync(pathOrName) && isBundledModelName(pathOrName) ? bundledModelPath(pathOrName) : pathOrName;
    if (!existsSync(dir)) {
      throw new ArgumentError(`DiffusionPipeline.fromPretrained: ${pathOrName}: no such folder, and no bundled model of that name (the bundled models: ${BUNDLED_MODEL_NAMES.join(', ')})`);
    }
    const { unetDir, schedulerDir } = resolveModelDir(dir);
    const unet = UNet2DModel.fromPretrained(unetDir, options);
    const schedulerConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
    const sampling = Object.freeze(readSamplingConfig(unetDir, schedulerNames()));
    const names = modelClassNames(dir, unetDir, unet.config.numClassEmbeds);
    return new DiffusionPipeline(resolve(dir), unetDir, unet, schedulerConfig, sampling, names === null ? null : Object.freeze(names), superresInfoOf(unetDir));
  }

  /** Number of nameable classes (num_class_embeds less the null class), or 0 for an unconditional model. */
  get numClasses(): number {
    const k = this.unet.config.numClassEmbeds;
    return k === null ? 0 : (this.classNames?.length ?? k - 1);
  }

  /**
   * A class's index from its index or name.
   * @example pipe.classLabel('ankle boot') // 9 for fashion-mnist
   */
  classLabel(label: ClassLabel): number {
    if (typeof label === 'number') return label; // checked by the pipeline with the model's class count
    if (typeof label !== 'string') throw new ArgumentError(`classLabels: expected a class index or name, found ${label === null ? 'null' : typeof label}`);
    if (this.unet.config.numClassEmbeds === null) throw new ArgumentError(`classLabels: '${label}' given, but ${this.path} is unconditional (it has no classes)`);
    if (this.classNames === null) throw new ArgumentError(`classLabels: '${label}' is a name, but ${this.path} records no class names (no classes.json); give class indices 0..${this.numClasses - 1}`);
    const k = classIndex(label, this.classNames);
    if (k < 0) throw new ArgumentError(`classLabels: no class '${label}' in ${this.path}; its classes are ${this.classNames.map((c, i) => `${i} '${c}'`).join(', ')}`);
    return k;
  }

  /**
   * The settings a call runs with: the call's, else the folder's sampling_config.json, else
   * 'ddim' with its usual steps and guidance 1.
   * @example pipe.resolveSettings({}) // { scheduler: 'dpmpp_2m', steps: 20, guidance: 1.3, seed: null } for fashion-mnist
   */
  resolveSettings(o: PipelineCallOptions & { guidance?: number }): GenerationSettings {
    return this.settingsOf(o).settings;
  }

  /** The settings and the scheduler to pass (the call's instance or SAMPLERS entry, else a name). */
  private settingsOf(o: PipelineCallOptions & { guidance?: number }): { settings: GenerationSettings; choice: SchedulerChoice } {
    const given = o.scheduler;
    const givenName = given === undefined ? undefined : typeof given === 'string' ? given : 'className' in given ? given.className : given.name;
    const choice = resolveSampling(this.samplingConfig, { scheduler: givenName, steps: o.steps, guidanceScale: o.guidance }, FALLBACK_SCHEDULER);
    const method = findMethod(choice.scheduler);
    const t = this.schedulerConfig['num_train_timesteps'];
    const steps = choice.steps ?? (method === null ? DEFAULT_STEPS : (methodDefaultSteps(method, null, typeof t === 'number' ? { numTrainTimesteps: t } : {}) ?? DEFAULT_STEPS));
    return { settings: { scheduler: choice.scheduler, steps, guidance: choice.guidanceScale, seed: o.seed ?? null }, choice: given ?? choice.scheduler };
  }

  /** The options every call passes down: model, schedule, settings, seed, signal, progress. */
  private common(op: string, o: PipelineCallOptions & PipelineClassOptions, withClasses: boolean): { options: Record<string, unknown>; settings: GenerationSettings } {
    if (o === null || typeof o !== 'object') throw new ArgumentError(`DiffusionPipeline.${op}: expected an options object`);
    const { settings: s, choice } = this.settingsOf(o);
    const seed = o.generator === undefined ? (o.seed ?? randomSeed()) : null;
    const options: Record<string, unknown> = { model: this.unet, schedulerConfig: this.schedulerConfig, scheduler: choice, steps: s.steps };
    if (seed !== null) options['seed'] = seed;
    for (const k of ['generator', 'signal', 'onProgress', 'batchSize', 'eta', 'sigmaSchedule', 'samplerOptions'] as const) if (o[k] !== undefined) options[k] = o[k];
    if (withClasses) {
      options['guidanceScale'] = s.guidance;
      const l = o.classLabels;
      if (l !== undefined) options['classLabels'] = Array.isArray(l) ? (l as readonly ClassLabel[]).map((x) => this.classLabel(x)) : this.classLabel(l as ClassLabel);
    }
    return { options, settings: { scheduler: s.scheduler, steps: s.steps, guidance: withClasses ? s.guidance : 1, seed } };
  }

  private notSuperres(op: string): void {
    if (this.superres !== null) throw new DiffuseError(`DiffusionPipeline.${op}: ${this.path} is a super-resolution model (x${this.superres.scale}); call pipe.upscale({ image })`);
  }

  /**
   * Generates `n` images (default 1).
   * @example
   * const pipe = await DiffusionPipeline.fromPretrained('mnist');
   * const controller = new AbortController();
   * const images = await pipe.generate({ n: 4, classLabels: [0, 1, 2, 3], steps: 4, seed: 1, signal: controller.signal, onProgress: (e) => console.log(e.step, e.total) });
   * const png = await images.toPng(); // a 2x2 grid
   */
  async generate(options: PipelineGenerateOptions = {}): Promise<GeneratedImages> {
    this.notSuperres('generate');
    const { options: o, settings } = this.common('generate', options, true);
    o['n'] = options.n ?? 1;
    const r = await generateAsync(o as never);
    return new GeneratedImages(r.images, r.classLabels, this.classNames, settings);
  }

  /**
   * SDEdit (img2img): noises `image` to `strength` of the schedule and runs the rest.
   * @example const out = await pipe.img2img({ image: await readPng('in.png'), strength: 0.5, steps: 4, seed: 0 });
   */
  async img2img(options: PipelineImg2ImgOptions): Promise<GeneratedImages> {
    this.notSuperres('img2img');
    const { options: o, settings } = this.common('img2img', options, true);
    o['image'] = options.image;
    o['strength'] = options.strength;
    if (options.n !== undefined) o['n'] = options.n;
    const r = await img2imgAsync(o as never);
    return new GeneratedImages(r.images, r.classLabels, this.classNames, settings);
  }

  /**
   * Inpainting: completes the unknown pixels of `image` (`mask` or `box`, as `inpaint` takes them).
   * @example const out = await pipe.inpaint({ image: await readPng('in.png'), box: { x: 7, y: 7, w: 14, h: 14 }, steps: 4, seed: 0 });
   */
  async inpaint(options: PipelineInpaintOptions): Promise<GeneratedImages> {
    this.notSuperres('inpaint');
    const { options: o, settings } = this.common('inpaint', options, true);
    for (const k of ['image', 'mask', 'box', 'method', 'jumpLength', 'jumpNSample', 'n'] as const) if (options[k] !== undefined) o[k] = options[k];
    const r = await inpaintAsync(o as never);
    return new GeneratedImages(r.images, r.classLabels, this.classNames, settings);
  }

  /**
   * Upscales low-resolution images with a super-resolution (SR3) pipeline by its scale.
   * @example
   * const sr = await DiffusionPipeline.fromPretrained('fashion-mnist-sr2');
   * const big = await sr.upscale({ image: zeros([14, 14, 1]), steps: 2, seed: 0 }); // 28x28
   */
  async upscale(options: PipelineUpscaleOptions): Promise<GeneratedImages> {
    if (this.superres === null) throw new DiffuseError(`DiffusionPipeline.upscale: ${this.path} is not a super-resolution model (no superres.json); load one trained with 'diffuse train --task superres' (the bundled 'fashion-mnist-sr2')`);
    const { options: o, settings } = this.common('upscale', options, false);
    o['image'] = options.image;
    o['scale'] = this.superres.scale;
    const r = await upscaleAsync(o as never);
    return new GeneratedImages(r.images, null, null, settings);
  }
}

