/**
 * Flags shared by the editing commands (inpaint, img2img, augment, explain): the reverse process
 * (--scheduler, --sigmas, --steps, --eta), conditioning (--class, --guidance), --seed, --batch, as
 * schema fields; each checked with a message naming the flag, the value and what is allowed, before
 * any model is loaded; the sampling defaults from the model's sampling_config.json
 * (`withSamplingDefaults`). Also reading an input image and a mask PNG.
 */
import { ImageDecodeError, probeImage, readPng } from '../io/png.js';
import { Tensor } from '../tensor/tensor.js';
import { DiffuseError, UsageError } from '../tensor/errors.js';
import { findMethod, samplingMethods } from '../sampling/registry.js';
import type { SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import { resolveSampling, type SamplingConfig } from '../io/sampling_config.js';
import { boolField, described, enumField, type ValuesOf } from '../schema/field.js';
import { MASK_CONVENTIONS, type MaskConvention } from '../diffusion/mask_convention.js';
import { resolveClassRefs } from './class_arg.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, CLASS_FLAG, ETA_FLAG, FALLBACK_SCHEDULER, FALLBACK_STEPS, GUIDANCE_FLAG, MODEL_FLAG, SEED_FLAG, SIGMAS_FLAG, batchFlag, stepsFlag, schedulerFlag, ALLOW_NONFINITE_FLAG } from './flags.js';

export { intFlag, numFlag, intListFlag } from './flags.js';

/** Images per forward pass of the editing commands. */
const EDIT_BATCH_SIZE = 16;

/** The shared flags (schema fields; --help prints them with their defaults). */
export const EDIT_FLAGS = {
  model: MODEL_FLAG,
  scheduler: schedulerFlag(),
  sigmas: SIGMAS_FLAG,
  steps: stepsFlag(),
  class: CLASS_FLAG,
  guidance: GUIDANCE_FLAG,
  eta: ETA_FLAG,
  seed: SEED_FLAG,
  batch: batchFlag(EDIT_BATCH_SIZE),
  maxMemory: MAX_MEMORY_FLAG,
  allowNonfinite: ALLOW_NONFINITE_FLAG,
} as const;

/** The shared flags' values as parseCommandFlags returns them. */
export type EditFlagValues = ValuesOf<typeof EDIT_FLAGS>;

/** The shared flags, checked; pipeline options (without model). */
export interface EditFlags {
  /** --scheduler, or undefined: the model's sampling_config.json decides (`withSamplingDefaults`). */
  scheduler?: string;
  sigmaSchedule?: SigmaScheduleName;
  steps?: number;
  classLabels?: number | number[];
  /** --guidance; when absent the model's sampling_config.json decides. */
  guidanceScale?: number;
  eta?: number;
  seed: number;
  batchSize?: number;
}

/** The checks between flags that depend on the method (--sigmas for samplers, --eta for ddim or stochastic samplers), from the registry. */
export function checkSchedulerFlags(scheduler: string, sigmas: string | undefined, eta: number | undefined): void {
  const method = findMethod(scheduler);
  if (sigmas !== undefined && method?.takesSigmas !== true) throw new UsageError(`--sigmas applies to the samplers (${samplingMethods().filter((m) => m.takesSigmas).map((m) => m.name).join(', ')}) only; a scheduler sets its own timesteps`);
  if (eta !== undefined && method?.takesEta !== true) {
    throw new UsageError(`--eta applies to --scheduler ddim only, or to a stochastic sampler (${samplingMethods().filter((m) => m.kind === 'sampler' && m.takesEta).map((m) => m.name).join(', ')}); '${scheduler}' has no eta`);
  }
}

/** Checks the shared flags (before any model is loaded) and sets the memory budget (--max-memory); a given --scheduler is checked with --sigmas and --eta here. */
export function parseEditFlags(values: EditFlagValues): EditFlags {
  applyMaxMemory(values.maxMemory);
  if (values.scheduler !== undefined) checkSchedulerFlags(values.scheduler, values.sigmas, values.eta);
  const out: EditFlags = { seed: values.seed };
  if (values.scheduler !== undefined) out.scheduler = values.scheduler;
  if (values.guidance !== undefined) out.guidanceScale = values.guidance;
  if (values.sigmas !== undefined) out.sigmaSchedule = values.sigmas;
  if (values.steps !== undefined) out.steps = values.steps;
  if (values.class !== undefined) {
    const classes = resolveClassRefs(values.class, values.model);
    out.classLabels = classes.length === 1 ? classes[0]! : classes;
  }
  if (values.eta !== undefined) out.eta = values.eta;
  if (values.batch !== undefined) out.batchSize = values.batch;
  return out;
}

/** EditFlags with every sampling setting decided: scheduler and steps (the command's fallback otherwise), guidance. */
export type ResolvedEditFlags = EditFlags & { scheduler: string; steps: number; guidanceScale: number };

/**
 * The one rule for the editing commands' sampling defaults (io/sampling_config.ts resolveSampling):
 * flags win, then the model's sampling_config.json, then `fallbackScheduler` and its usual steps.
 * A scheduler taken from the file is checked against --sigmas and --eta here.
 */
export function withSamplingDefaults(flags: EditFlags, sampling: SamplingConfig, fallbackScheduler = FALLBACK_SCHEDULER, fallbackSteps = FALLBACK_STEPS): ResolvedEditFlags {
  const choice = resolveSampling(sampling, { scheduler: flags.scheduler, steps: flags.steps, guidanceScale: flags.guidanceScale }, fallbackScheduler);
  if (flags.scheduler === undefined) checkSchedulerFlags(choice.scheduler, flags.sigmaSchedule, flags.eta);
  return { ...flags, scheduler: choice.scheduler, steps: choice.steps ?? fallbackSteps, guidanceScale: choice.guidanceScale };
}

/**
 * Reads an input image PNG/JPEG as (H, W, C) in [-1, 1], naming the flag and the file on failure.
 * With `expectedSize` (the model's [height, width]) the header is checked first, so an image of
 * the wrong size is refused before its pixels are decoded (a small file may claim a huge size).
 */
export async function readImageFlag(flag: string, path: string, expectedSize: readonly [number, number] | null = null, why = 'its sample_size'): Promise<Tensor> {
  try {
    if (expectedSize !== null) {
      const { width, height } = await probeImage(path);
      if (height !== expectedSize[0] || width !== expectedSize[1]) {
        throw new DiffuseError(`'${flag}' is ${height}x${width} pixels, but the model takes ${expectedSize[0]}x${expectedSize[1]} (${why}); resize or crop --${flag} ${path} to ${expectedSize[0]}x${expectedSize[1]}`);
      }
    }
    return await readPng(path);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new DiffuseError(`--${flag} ${path}: ${e.reason}`);
    if (e instanceof DiffuseError) throw e;
    throw new DiffuseError(`--${flag} ${path}: cannot read the image (${(e as Error).message})`);
  }
}

/** --mask-convention: what a white mask pixel means (mask_convention.ts). */
export const MASK_CONVENTION_FLAG = described(
  enumField<MaskConvention>('mask_convention', MASK_CONVENTIONS, 'repaint'),
  "What white means in --mask: repaint (white = generate, black = keep; diffusers' convention and the HTTP API's and web page's) or keep (white = keep, black = generate; diffuse's CLI before 0.1.0: pass it for masks made for that).",
  { metavar: 'repaint|keep' },
);

/** --invert-mask: before 0.1.0 it selected diffusers' convention, which is now the default. */
export const INVERT_MASK_FLAG = described(boolField('invert_mask', false), 'Deprecated: white = repaint is now the default (same result as before; drop the flag).');

/**
 * The mask convention of --mask-convention and the deprecated --invert-mask (which meant
 * white = repaint, the default now: its users get the same result), checked together.
 */
export function maskConventionFlag(values: { maskConvention: MaskConvention; invertMask: boolean }, given: ReadonlySet<string>, hasMask: boolean): MaskConvention {
  if (!hasMask && (given.has('maskConvention') || values.invertMask)) throw new DiffuseError(`--${values.invertMask ? 'invert-mask' : 'mask-convention'} applies to --mask only (--box is the region to generate)`);
  if (values.invertMask) {
    if (given.has('maskConvention') && values.maskConvention !== 'repaint') throw new DiffuseError(`--invert-mask (white = repaint) contradicts --mask-convention ${values.maskConvention}; give --mask-convention alone`);
    return 'repaint';
  }
  return values.maskConvention;
}

/**
 * The line a mask command prints to stderr where the user may rely on the old convention: the
 * convention in force, how many pixels it selected, and the flag that restores the old reading.
 * Printed unless --mask-convention was given (nothing is guessed from the mask's content); with the
 * deprecated --invert-mask it says the flag is no longer needed. `repainted` counts the pixels the
 * mask marks for generation.
 */
export function maskConventionNote(path: string, convention: MaskConvention, how: 'default' | 'flag' | 'invert-mask', repainted: number, pixels: number): string | null {
  switch (how) {
    case 'flag':
      return null;
    case 'invert-mask':
      return `note: --invert-mask is deprecated: white = repaint is the default since 0.1.0, so the result is as before; drop the flag`;
    case 'default':
      return convention === 'repaint'
        ? `note: --mask ${path}: white = repaint (${repainted} of ${pixels} pixels generated), diffusers' convention and the default since 0.1.0; before, the CLI read white = keep: pass --mask-convention keep for masks made that way (or --mask-convention repaint to silence this note)`
        : null;
  }
}

/**
 * Reads a mask image as a mask in the library's convention (H, W, 1): 1 = repaint (generate),
 * 0 = keep. A pixel is white above mid-grey (a colour mask is judged by its mean over channels);
 * white means repaint, or keep with convention 'keep'.
 */
export async function readMaskFlag(path: string, convention: MaskConvention, expectedSize: readonly [number, number] | null = null): Promise<Tensor> {
  const m = await readImageFlag('mask', path, expectedSize);
  const [h, w, c] = m.shape as [number, number, number];
  const repaint = new Float32Array(h * w); // (H, W, 1)
  const md = m.toArray();
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let ch = 0; ch < c; ch++) s += md[p * c + ch]!;
    const white = s / c > 0;
    repaint[p] = white === (convention === 'repaint') ? 1 : 0;
  }
  return new Tensor(repaint, [h, w, 1]);
}
