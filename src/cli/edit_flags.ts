/**
 * Flags shared by the editing commands (inpaint, img2img, augment, explain): the reverse process
 * (--scheduler, --sigmas, --steps, --eta), conditioning (--class, --guidance), --seed, --batch;
 * each checked with a message naming the flag, the value and what is allowed, before any model
 * is loaded. Also reading an input image and a mask PNG.
 */
import type { ParseArgsConfig } from 'node:util';
import { readPng } from '../io/png.js';
import { Tensor } from '../tensor/tensor.js';
import { DiffuseError } from '../tensor/errors.js';
import { findMethod, samplingMethods, schedulerNames } from '../sampling/registry.js';
import { SIGMA_SCHEDULES, type SigmaScheduleName } from '../diffusion/sigma_ramps.js';

/** parseArgs options of the shared flags. */
export const EDIT_FLAG_OPTIONS = {
  model: { type: 'string' },
  scheduler: { type: 'string' },
  sigmas: { type: 'string' },
  steps: { type: 'string' },
  class: { type: 'string' },
  guidance: { type: 'string' },
  eta: { type: 'string' },
  seed: { type: 'string' },
  batch: { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** --help lines of the shared flags. */
export const EDIT_FLAG_HELP = `  --model DIR        A training run, checkpoint, pipeline folder or U-Net folder (default: the
                     bundled models/fashion-mnist/).
  --scheduler NAME   A sampler (euler, heun, dpmpp_2m, ...) or a diffusers scheduler (ddim, ddpm,
                     unipc, dpmsolver, EulerDiscreteScheduler, ...); 'diffuse samplers' lists
                     them (default: ddim).
  --sigmas S         A sampler's sigma schedule: ${SIGMA_SCHEDULES.filter((k) => k !== 'vp').join(', ')} (default karras).
  --steps K          Steps of the full schedule (default 50).
  --class C          Class of every image, or a comma-separated list, one per image (class-
                     conditional models; default 0, 1, 2, ... cycling).
  --guidance W       Classifier-free guidance weight (default: the model's sampling_config.json,
                     else 1: none; needs a class-conditional model trained with a null class).
  --eta E            DDIM's eta, or a stochastic sampler's noise scale.
  --seed S           Seed (default 0).
  --batch B          Images per forward pass (default 16; results do not depend on it).
`;

/** An integer flag >= min, or undefined when absent. */
export function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(x) || x < min) throw new DiffuseError(`--${name} must be an integer >= ${min}, found '${v}'`);
  return x;
}

/** A finite number flag, or undefined when absent. */
export function numFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new DiffuseError(`--${name} must be a number, found '${v}'`);
  return x;
}

/** A comma-separated list of integers >= min. */
export function intListFlag(name: string, v: string | undefined, min: number): number[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((s) => intFlag(name, s, min) as number);
}

/** The shared flags, checked; pipeline options (without model). */
export interface EditFlags {
  scheduler: string;
  sigmaSchedule?: SigmaScheduleName;
  steps?: number;
  classLabels?: number | number[];
  /** --guidance; when absent the model's sampling_config.json decides (loadModelArg's `sampling`). */
  guidanceScale?: number;
  eta?: number;
  seed: number;
  batchSize?: number;
}

/** Checks the shared flags (before any model is loaded). */
export function parseEditFlags(values: Record<string, string | boolean | undefined>, defaultScheduler = 'ddim'): EditFlags {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const scheduler = str('scheduler') ?? defaultScheduler;
  const names = schedulerNames();
  if (!names.includes(scheduler)) throw new DiffuseError(`--scheduler must be one of ${names.join(', ')}, found '${scheduler}'`);
  const method = findMethod(scheduler)!;
  const sigmas = str('sigmas');
  if (sigmas !== undefined) {
    if (!method.takesSigmas) throw new DiffuseError(`--sigmas applies to the samplers (${samplingMethods().filter((m) => m.takesSigmas).map((m) => m.name).join(', ')}) only; a scheduler sets its own timesteps`);
    if (!SIGMA_SCHEDULES.includes(sigmas as SigmaScheduleName) || sigmas === 'vp') throw new DiffuseError(`--sigmas must be one of ${SIGMA_SCHEDULES.filter((k) => k !== 'vp').join(', ')}, found '${sigmas}'`);
  }
  const eta = numFlag('eta', str('eta'));
  if (eta !== undefined && !method.takesEta) {
    throw new DiffuseError(`--eta applies to --scheduler ddim only, or to a stochastic sampler (${samplingMethods().filter((m) => m.kind === 'sampler' && m.takesEta).map((m) => m.name).join(', ')}); '${scheduler}' has no eta`);
  }
  if (eta !== undefined && eta < 0) throw new DiffuseError(`--eta must be >= 0, found ${eta}`);
  const list = intListFlag('class', str('class'), 0);
  const out: EditFlags = { scheduler, seed: intFlag('seed', str('seed'), 0) ?? 0 };
  const guidance = numFlag('guidance', str('guidance'));
  if (guidance !== undefined) out.guidanceScale = guidance;
  if (sigmas !== undefined) out.sigmaSchedule = sigmas as SigmaScheduleName;
  const steps = intFlag('steps', str('steps'), 1);
  if (steps !== undefined) out.steps = steps;
  if (list !== undefined) out.classLabels = list.length === 1 ? list[0]! : list;
  if (eta !== undefined) out.eta = eta;
  const batch = intFlag('batch', str('batch'), 1);
  if (batch !== undefined) out.batchSize = batch;
  return out;
}

/** Reads an input image PNG/JPEG as (H, W, C) in [-1, 1], naming the flag on failure. */
export async function readImageFlag(flag: string, path: string): Promise<Tensor> {
  try {
    return await readPng(path);
  } catch (e) {
    throw new DiffuseError(`--${flag} ${path}: cannot read the image (${(e as Error).message})`);
  }
}

/**
 * Reads a mask image as a keep-mask (H, W, 1): white (above mid-grey) = keep, black = generate
 * (or the opposite with `invert`); a colour mask is judged by its mean over channels.
 */
export async function readMaskFlag(path: string, invert: boolean): Promise<Tensor> {
  const m = await readImageFlag('mask', path);
  const [h, w, c] = m.shape as [number, number, number];
  const keep = new Float32Array(h * w); // (H, W, 1)
  const md = m.toArray();
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let ch = 0; ch < c; ch++) s += md[p * c + ch]!;
    const white = s / c > 0;
    keep[p] = white !== invert ? 1 : 0;
  }
  return new Tensor(keep, [h, w, 1]);
}
