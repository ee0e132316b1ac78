/**
 * Synthetic training data: a class-conditional model's samples written as labelled image files,
 * DIR/<class>/<index>.png (the layout data/image_folder.ts reads back, with each class folder
 * named "<zero-padded class index>_<class name>" so that the loader's sorted-folder labels equal
 * the model's class indices), 8- or 16-bit (16-bit grayscale for medical-style data), and
 * DIR/manifest.json recording every setting and each image's index, class, stream and batch, so
 * any single image can be regenerated bit-identically (regenerateAugmented) on the same backend.
 *
 * Image K (K = 0, 1, ... class-major: classes[0]'s images first) draws from Philox stream K of
 * the seed (generate()'s layout), and is generated in the batch [floor(K / B) B, ...) of batch
 * size B; regeneration runs that batch again, so even kernels whose rounding depends on the batch
 * give the same bits.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { DataError } from '../data/dataset.js';
import { sliceBatch } from '../ops/slice.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { backend } from '../backend/backend.js';
import { engineInfo } from '../engine_info.js';
import { writePng } from '../io/png.js';
import { readJSONFile, writeJSONAtomic } from '../io/checkpoint.js';
import { schedulerFromConfig } from '../schedulers/index.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';
import { SAMPLERS, isSamplerName } from '../samplers/index.js';
import type { SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import type { BitDepth } from '../data/transforms.js';
import { DEFAULT_BATCH_SIZE, generate, type SchedulerChoice } from './generate.js';
import { imageStream } from '../sampling/noise_streams.js';
import { reverseProcess } from '../sampling/reverse_process.js';
import { progressHandler, type ProgressHandler } from '../sampling/progress.js';
import { checkConditioning } from './edit.js';
import { DEFAULT_STEPS, FALLBACK_SCHEDULER } from '../sampling/registry.js';

/** The manifest's file name inside DIR. */
export const MANIFEST_NAME = 'manifest.json';
/** The manifest format this code writes and reads. */
export const MANIFEST_FORMAT = 'diffuse-augment/1';

/** Options of `augment`. */
export interface AugmentOptions {
  /** A class-conditional (or unconditional) model, eval mode. */
  model: UNet2DModel;
  /** The folder to write; must not exist or be empty. */
  out: string;
  /** Images per class (for an unconditional model: images in all). */
  perClass: number;
  /** Which classes (default: every real class, 0..num_class_embeds - 2). */
  classes?: readonly number[];
  /** Class names by index, for the folder names (default: the index alone). */
  classNames?: readonly string[];
  /** 8 (default) or 16 bits per sample in the PNGs. */
  bitDepth?: BitDepth;
  /** A scheduler or sampler by name, or an instance (its config goes to the manifest). Default 'ddim'. */
  scheduler?: SchedulerChoice;
  schedulerConfig?: DiffusersConfig;
  sigmaSchedule?: SigmaScheduleName;
  samplerOptions?: Readonly<Record<string, unknown>>;
  /** Reverse steps (default 50). */
  steps?: number;
  /** Classifier-free guidance weight (default 1). */
  guidanceScale?: number;
  eta?: number;
  /** Seed (default 0). */
  seed?: number | bigint;
  /** Images per forward pass (default 16); recorded, because regeneration repeats the batch. */
  batchSize?: number;
  /** Where the model was loaded from, recorded so `diffuse augment --regenerate` can reload it. */
  modelPath?: string;
  onProgress?: ProgressHandler;
  signal?: AbortSignal;
}

/** One image's record in the manifest. */
export interface ManifestImage {
  /** Global index K: the image's noise stream. */
  index: number;
  /** Its class (null for an unconditional model). */
  class: number | null;
  className: string | null;
  /** Path relative to DIR. */
  file: string;
  /** The batch it was generated in: images [start, end). */
  batch: [number, number];
}

/** manifest.json. */
export interface AugmentManifest {
  format: string;
  diffuseVersion: string;
  /** Kernels and threads (bit-identical regeneration needs the same). */
  backend: string;
  threads: number;
  model: { path: string | null; fingerprint: string; inChannels: number; sampleSize: [number, number]; numClassEmbeds: number | null };
  settings: {
    scheduler: { kind: 'sampler'; name: string } | { kind: 'scheduler'; config: Record<string, unknown> };
    schedulerConfig: Record<string, unknown>;
    sigmaSchedule: SigmaScheduleName | null;
    samplerOptions: Record<string, unknown>;
    steps: number;
    guidanceScale: number;
    eta: number | null;
    seed: string;
    batchSize: number;
    bitDepth: BitDepth;
    perClass: number;
    classes: number[] | null;
    classNames: string[] | null;
  };
  images: ManifestImage[];
}

/** What `augment` returns. */
export interface AugmentResult {
  manifest: AugmentManifest;
  /** The manifest's path. */
  manifestPath: string;
}

/**
 * A fingerprint of a model's weights (SHA-256 over parameter names, shapes and float32 values),
 * so regeneration can tell it has the same model.
 */
export function modelFingerprint(model: UNet2DModel): string {
  const h = createHash('sha256');
  for (const [name, t] of [...model.stateDict().entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${name}:${t.shape.join('x')};`);
    const f = t.toArray(); // a host copy: the fingerprint hashes float32 values
    h.update(new Uint8Array(f.buffer));
  }
  return h.digest('hex');
}

/** A folder name for class c: the zero-padded index (so sorted order is index order), then the name. */
export function classFolderName(c: number, numClasses: number, name: string | null): string {
  const idx = String(c).padStart(String(Math.max(0, numClasses - 1)).length, '0');
  if (name === null) return idx;
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return slug === '' ? idx : `${idx}_${slug}`;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

interface AugmentPlan {
  labels: number[] | null;
  classes: number[] | null;
  names: (string | null)[];
  total: number;
  files: string[];
  bitDepth: BitDepth;
  batch: number;
  steps: number;
  seed: bigint;
  guidance: number;
  schedulerRecord: AugmentManifest['settings']['scheduler'];
}

function planAugment(o: AugmentOptions): AugmentPlan {
  const op = 'augment';
  if (o === null || typeof o !== 'object') throw new ArgumentError(`${op}: expected an options object { model, out, perClass, ... }`);
  const { model } = o;
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel (UNet2DModel.fromPretrained(dir)), found ${model === null ? 'null' : typeof model}`);
  if (typeof o.out !== 'string' || o.out === '') throw new ArgumentError(`${op}: 'out' must be a folder path, found ${JSON.stringify(o.out)}`);
  if (existsSync(o.out) && readdirSync(o.out).length > 0) throw new DataError(`${op}: ${o.out} is not empty; write a synthetic set into a new (or empty) folder so the image-folder loader sees only it`);
  if (!isPosInt(o.perClass)) throw new ArgumentError(`${op}: 'perClass' must be an integer >= 1, found ${String(o.perClass)}`);
  const bitDepth = o.bitDepth ?? 8;
  if (bitDepth !== 8 && bitDepth !== 16) throw new ArgumentError(`${op}: 'bitDepth' must be 8 or 16, found ${String(bitDepth)}`);
  const batch = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!isPosInt(batch)) throw new ArgumentError(`${op}: 'batchSize' must be an integer >= 1, found ${String(batch)}`);
  const steps = o.steps ?? DEFAULT_STEPS;
  if (!isPosInt(steps)) throw new ArgumentError(`${op}: 'steps' must be an integer >= 1, found ${String(steps)}`);
  const seed = new Generator(o.seed ?? 0).seed;
  const k = model.config.numClassEmbeds;
  const guidance = o.guidanceScale ?? 1;
  let classes: number[] | null = null;
  if (k !== null && model.class_embedding !== null) {
    const real = Math.max(1, k - 1);
    classes = o.classes === undefined ? Array.from({ length: real }, (_, c) => c) : [...o.classes];
    if (!Array.isArray(o.classes ?? []) || classes.length === 0) throw new ArgumentError(`${op}: 'classes' must be a non-empty array of class indices, found ${JSON.stringify(o.classes)}`);
    if (new Set(classes).size !== classes.length) throw new ArgumentError(`${op}: 'classes' lists a class twice: ${JSON.stringify(classes)}`);
  } else if (o.classes !== undefined) throw new ArgumentError(`${op}: this model is unconditional (num_class_embeds is null); do not pass classes`);
  const labels = classes === null ? null : classes.flatMap((c) => new Array<number>(o.perClass).fill(c));
  const total = classes === null ? o.perClass : labels!.length;
  // Classes, guidance: generate()'s rules and messages, before any work.
  checkConditioning(op, model, total, labels ?? undefined, guidance);
  let names: (string | null)[] = [];
  if (classes !== null) {
    if (o.classNames !== undefined) {
      if (!Array.isArray(o.classNames) || !o.classNames.every((s) => typeof s === 'string')) throw new ArgumentError(`${op}: 'classNames' must be an array of strings, found ${JSON.stringify(o.classNames)}`);
      for (const c of classes) if (o.classNames[c] === undefined) throw new ArgumentError(`${op}: 'classNames' has ${o.classNames.length} names, none for class ${c}`);
    }
    names = classes.map((c) => o.classNames?.[c] ?? null);
  }
  const numClasses = k === null ? 0 : Math.max(1, k - 1);
  const width = String(Math.max(0, total - 1)).length;
  const files = Array.from({ length: total }, (_, i) => {
    const file = `${String(i).padStart(Math.max(5, width), '0')}.png`;
    if (classes === null) return file;
    const ci = Math.floor(i / o.perClass);
    return join(classFolderName(classes[ci]!, numClasses, names[ci]!), file);
  });
  // The reverse process, recorded so that regeneration rebuilds it.
  const schedulerRecord: AugmentManifest['settings']['scheduler'] = reverseProcess(op, o.scheduler ?? FALLBACK_SCHEDULER, { steps, schedulerConfig: o.schedulerConfig }).record();
  return { labels, classes, names, total, files, bitDepth, batch, steps, seed, guidance, schedulerRecord };
}

/** The scheduler (fresh) or sampler a manifest records. */
function schedulerOf(m: AugmentManifest): SchedulerChoice {
  const s = m.settings.scheduler;
  if (s.kind === 'sampler') {
    if (!isSamplerName(s.name)) throw new DataError(`manifest: unknown sampler '${s.name}'`);
    return SAMPLERS[s.name];
  }
  return schedulerFromConfig(s.config) as SchedulerChoice & object;
}

/** Runs generate() for the batch [start, end) of a plan, exactly as augment does. */
function generateBatch(model: UNet2DModel, m: AugmentManifest, labels: number[] | null, start: number, end: number, onProgress?: ProgressHandler, signal?: AbortSignal): Tensor {
  const s = m.settings;
  return generate({
    model,
    scheduler: schedulerOf(m),
    schedulerConfig: s.schedulerConfig,
    ...(s.sigmaSchedule === null ? {} : { sigmaSchedule: s.sigmaSchedule }),
    samplerOptions: s.samplerOptions,
    n: end - start,
    steps: s.steps,
    // Image `start`'s stream: the images of [start, end) are those of the whole run.
    generator: imageStream({ seed: BigInt(s.seed), base: 0n }, start),
    batchSize: end - start,
    guidanceScale: s.guidanceScale,
    ...(labels === null ? {} : { classLabels: labels.slice(start, end) }),
    ...(s.eta === null ? {} : { eta: s.eta }),
    ...(onProgress === undefined ? {} : { onProgress }),
    ...(signal === undefined ? {} : { signal }),
  }).images;
}

/**
 * Generates `perClass` images of each class into `out` as DIR/<class>/<index>.png plus
 * manifest.json.
 * @example
 * const { model, schedulerConfig } = ...; // UNet2DModel.fromPretrained, readSchedulerConfig
 * await augment({ model, schedulerConfig, out: 'synthetic', perClass: 100, classNames: FASHION_MNIST_CLASSES, bitDepth: 16, seed: 0 });
 * const ds = await loadImageFolder('synthetic', { imageSize: 28 }); // labels = the model's classes
 */
export async function augment(options: AugmentOptions): Promise<AugmentResult> {
  const p = planAugment(options);
  const { model } = options;
  const cfg = model.config;
  const size = cfg.sampleSize;
  if (size === null) throw new ArgumentError(`augment: the model's config has no sample_size; set it in its config.json`);
  const emit = progressHandler('augment', options);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new ArgumentError(`augment: 'signal' must be an AbortSignal`);
  const manifest: AugmentManifest = {
    format: MANIFEST_FORMAT,
    diffuseVersion: engineInfo().version,
    backend: backend().name,
    threads: engineInfo().threads,
    model: {
      path: options.modelPath ?? null,
      fingerprint: modelFingerprint(model),
      inChannels: cfg.inChannels,
      sampleSize: typeof size === 'number' ? [size, size] : [size[0], size[1]],
      numClassEmbeds: cfg.numClassEmbeds,
    },
    settings: {
      scheduler: p.schedulerRecord,
      schedulerConfig: { ...(options.schedulerConfig ?? {}) },
      sigmaSchedule: options.sigmaSchedule ?? null,
      samplerOptions: { ...(options.samplerOptions ?? {}) },
      steps: p.steps,
      guidanceScale: p.guidance,
      eta: options.eta ?? null,
      seed: p.seed.toString(),
      batchSize: p.batch,
      bitDepth: p.bitDepth,
      perClass: options.perClass,
      classes: p.classes,
      classNames: options.classNames === undefined ? null : [...options.classNames],
    },
    images: p.files.map((file, i) => {
      const ci = p.classes === null ? -1 : Math.floor(i / options.perClass);
      const start = Math.floor(i / p.batch) * p.batch;
      return { index: i, class: ci < 0 ? null : p.classes![ci]!, className: ci < 0 ? null : p.names[ci]!, file, batch: [start, Math.min(start + p.batch, p.total)] };
    }),
  };
  mkdirSync(options.out, { recursive: true });
  const chunks = Math.ceil(p.total / p.batch);
  for (let start = 0; start < p.total; start += p.batch) {
    const end = Math.min(start + p.batch, p.total);
    const chunk = start / p.batch;
    const images = generateBatch(model, manifest, p.labels, start, end, (e) => emit?.({ ...e, step: chunk * e.total + e.step, total: chunks * e.total }), options.signal);
    for (let i = start; i < end; i++) {
      const file = join(options.out, p.files[i]!);
      mkdirSync(join(file, '..'), { recursive: true });
      await writePng(file, sliceBatch(images, i - start, i - start + 1), { bitDepth: p.bitDepth });
    }
  }
  const manifestPath = join(options.out, MANIFEST_NAME);
  writeJSONAtomic(manifestPath, manifest);
  return { manifest, manifestPath };
}

/** Reads and checks a manifest.json. */
export function readAugmentManifest(path: string): AugmentManifest {
  const j = readJSONFile(path) as Partial<AugmentManifest> | null;
  if (j === null || typeof j !== 'object' || j.format !== MANIFEST_FORMAT || !Array.isArray(j.images) || j.settings === undefined || j.model === undefined) {
    throw new DataError(`${path} is not a diffuse augment manifest (expected "format": "${MANIFEST_FORMAT}" with settings, model and images)`);
  }
  return j as AugmentManifest;
}

/** Options of `regenerateAugmented`. */
export interface RegenerateOptions {
  /** The manifest (object, or the path of manifest.json). */
  manifest: AugmentManifest | string;
  /** The image's global index K. */
  index: number;
  /** The model (default: loaded from the manifest's model.path by the caller; required here). */
  model: UNet2DModel;
  signal?: AbortSignal;
}

/**
 * Regenerates image K of an augment run, bit-identically (same model, backend and thread count):
 * reruns its batch with the recorded settings and returns the image, (1, H, W, C) in [-1, 1].
 * @example const { image, file } = regenerateAugmented({ manifest: 'synthetic/manifest.json', index: 7, model });
 */
export function regenerateAugmented(options: RegenerateOptions): { image: Tensor; record: ManifestImage; bitDepth: BitDepth } {
  const op = 'regenerateAugmented';
  const m = typeof options.manifest === 'string' ? readAugmentManifest(options.manifest) : options.manifest;
  const { index, model } = options;
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel`);
  if (!Number.isInteger(index) || index < 0 || index >= m.images.length) throw new ArgumentError(`${op}: 'index' must be an integer in [0, ${m.images.length}) (the manifest's images), found ${String(index)}`);
  const fp = modelFingerprint(model);
  if (fp !== m.model.fingerprint) throw new DataError(`${op}: the model's weights (fingerprint ${fp.slice(0, 12)}...) are not the ones that made this set (${m.model.fingerprint.slice(0, 12)}...); load ${m.model.path ?? 'the original model'}`);
  const record = m.images[index]!;
  const [start, end] = record.batch;
  const labels = m.settings.classes === null ? null : m.images.map((im) => im.class!);
  const images = generateBatch(model, m, labels, start, end, undefined, options.signal);
  return { image: sliceBatch(images, index - start, index - start + 1), record, bitDepth: m.settings.bitDepth };
}
