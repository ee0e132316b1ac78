/**
 * Model folders in diffusers' layout: `config.json` + `diffusion_pytorch_model.safetensors`
 * (PyTorch parameter names, conv weights OIHW), and `scheduler_config.json`. This is the ONLY
 * place where conv weights change layout: OIHW in files, OHWI (our NHWC convolution's layout)
 * in memory. Legacy attention names of public DDPM checkpoints (google/ddpm-cifar10-32,
 * google/ddpm-celebahq-256: `query`, `key`, `value`, `proj_attn`) are renamed on load to
 * `to_q`, `to_k`, `to_v`, `to_out.0`, as diffusers' `_convert_deprecated_attention_blocks` does.
 */
import { existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { DiffuseError, fmtShape } from '../tensor/errors.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { writeFileAtomic } from './atomic.js';
import { makeDir } from './file_ops.js';
import { checkFiniteWeights, type NonfiniteOptions } from './nonfinite.js';
import { checkScheduleConfig } from '../diffusion/schedules.js';

/** File names of the layout. */
export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';
export const SCHEDULER_CONFIG_NAME = 'scheduler_config.json';

/**
 * The diffusers release whose folder layout, config keys and scheduler semantics diffuse follows;
 * written as `_diffusers_version` into every config.json and scheduler_config.json we save.
 */
export const DIFFUSERS_VERSION = '0.25.1';

/** A checkpoint folder is missing, unreadable or malformed. */
export class CheckpointError extends DiffuseError {}

/** A named array of float32 values with its shape. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** Legacy attention parameter names (diffusers < 0.14 AttentionBlock) -> current Attention names. */
export const LEGACY_ATTENTION_NAMES: Readonly<Record<string, string>> = Object.freeze({
  query: 'to_q',
  key: 'to_k',
  value: 'to_v',
  proj_attn: 'to_out.0',
});

/**
 * Renames legacy attention keys (`<path>.query.weight` -> `<path>.to_q.weight`, ...) of
 * attention modules (paths containing `attentions.`). Old checkpoints that stored these
 * projections as 1x1 convs (O, I, 1, 1) get them flattened to Linear's (O, I).
 * Throws if a legacy key and its modern name are both present.
 */
export function renameLegacyAttentionKeys(tensors: Map<string, NamedArray>): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const [name, t] of tensors) {
    const m = /^(.*attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/.exec(name);
    if (m === null) {
      if (out.has(name)) throw new CheckpointError(`checkpoint holds both '${name}' and a legacy name that maps to it`);
      out.set(name, t);
      continue;
    }
    const modern = `${m[1]}.${LEGACY_ATTENTION_NAMES[m[2]!]}.${m[3]}`;
    if (tensors.has(modern) || out.has(modern)) throw new CheckpointError(`checkpoint holds both the legacy '${name}' and '${modern}'`);
    const flat = t.shape.length === 4 && t.shape[2] === 1 && t.shape[3] === 1 ? { shape: [t.shape[0]!, t.shape[1]!], data: t.data } : t;
    out.set(modern, flat);
  }
  return out;
}

/** (O, I, KH, KW) -> (O, KH, KW, I): from PyTorch's conv weight layout to ours. */
export function oihwToOhwi(t: NamedArray): NamedArray {
  const [o, i, kh, kw] = t.shape as [number, number, number, number];
  const src = t.data;
  const dst = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) dst[((a * kh + y) * kw + x) * i + b] = src[((a * i + b) * kh + y) * kw + x]!;
  return { shape: [o, kh, kw, i], data: dst };
}

/** (O, KH, KW, I) -> (O, I, KH, KW): from our conv weight layout to PyTorch's. */
export function ohwiToOihw(t: { shape: readonly number[]; data: ArrayLike<number> }): NamedArray {
  const [o, kh, kw, i] = t.shape as [number, number, number, number];
  const src = t.data;
  const dst = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let b = 0; b < i; b++) dst[((a * i + b) * kh + y) * kw + x] = src[((a * kh + y) * kw + x) * i + b]!;
  return { shape: [o, i, kh, kw], data: dst };
}

/** The largest JSON file readJSONFile reads: config and state files are kilobytes. */
export const MAX_JSON_BYTES = 64 * 2 ** 20;

/** Reads and parses a JSON file; errors name the file. */
export function readJSONFile(path: string): unknown {
  // A file from outside could be gigabytes (parsed whole into memory) or a pipe (blocking): refuse both by name.
  let st: Stats | null = null;
  try {
    st = statSync(path);
  } catch {
    // reported by the read below, as before
  }
  if (st !== null && !st.isFile()) throw new CheckpointError(`${path}: not a regular file (${st.isDirectory() ? 'a folder' : 'a pipe, socket or device'})`);
  if (st !== null && st.size > MAX_JSON_BYTES) {
    throw new CheckpointError(`${path}: ${st.size} bytes, more than the ${MAX_JSON_BYTES / 2 ** 20} MiB a JSON config or state file may have (real ones are kilobytes); is it the right file?`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Writes `value` as indented JSON, atomically. */
export function writeJSONAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8'));
}

function expectFolder(dir: string): void {
  if (typeof dir !== 'string' || dir === '') throw new CheckpointError(`checkpoint folder must be a non-empty path string, found ${JSON.stringify(dir)}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CheckpointError(`${dir}: no such checkpoint folder (expected a folder holding ${CONFIG_NAME} and ${WEIGHTS_NAME})`);
  }
}

/** Reads and parses a model folder's config.json (a JSON object; its meaning is the model's business). */
export function readDiffusersConfig(dir: string): Record<string, unknown> {
  expectFolder(dir);
  const configPath = join(dir, CONFIG_NAME);
  if (!existsSync(configPath)) throw new CheckpointError(`${dir}: missing ${CONFIG_NAME} (a diffusers model folder holds ${CONFIG_NAME} and ${WEIGHTS_NAME})`);
  const config = readJSONFile(configPath);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new CheckpointError(`${configPath}: expected a JSON object`);
  return config as Record<string, unknown>;
}

/**
 * Reads a model folder's weights in OUR layout: legacy attention names renamed, rank-4 conv
 * weights OIHW -> OHWI. Weights holding NaN or Inf are refused with the tensors named, unless
 * `options.allowNonfinite` (then a warning).
 */
export function readDiffusersWeights(dir: string, options: NonfiniteOptions = {}): Map<string, NamedArray> {
  expectFolder(dir);
  const weightsPath = join(dir, WEIGHTS_NAME);
  if (!existsSync(weightsPath)) {
    const bin = join(dir, 'diffusion_pytorch_model.bin');
    const hint = existsSync(bin)
      ? ` (found ${bin}, a PyTorch pickle, which is not read for safety: convert it with diffusers, e.g. UNet2DModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))`
      : '';
    throw new CheckpointError(`${dir}: missing ${WEIGHTS_NAME}${hint}`);
  }
  const file = readSafetensors(weightsPath);
  checkFiniteWeights(weightsPath, file.tensors, options);
  const raw = new Map<string, NamedArray>();
  for (const [name, t] of file.tensors) raw.set(name, { shape: [...t.shape], data: t.data });
  const renamed = renameLegacyAttentionKeys(raw);
  const tensors = new Map<string, NamedArray>();
  for (const [name, t] of renamed) tensors.set(name, t.shape.length === 4 ? oihwToOhwi(t) : t);
  return tensors;
}

/**
 * Reads a diffusers model folder: the parsed config.json and the weights in our layout.
 * @example const { config, tensors } = readDiffusersFolder('models/fashion-mnist');
 */
export function readDiffusersFolder(dir: string, options: NonfiniteOptions = {}): { config: Record<string, unknown>; tensors: Map<string, NamedArray> } {
  return { config: readDiffusersConfig(dir), tensors: readDiffusersWeights(dir, options) };
}

/**
 * Writes a diffusers model folder (created if needed): config.json and the weights with conv
 * weights (rank 4, OHWI in memory) converted to OIHW. Each file is written atomically.
 */
export function writeDiffusersFolder(
  dir: string,
  config: Record<string, unknown>,
  state: ReadonlyMap<string, Tensor | { shape: readonly number[]; data: ArrayLike<number> }>,
): void {
  if (typeof dir !== 'string' || dir === '') throw new CheckpointError(`checkpoint folder must be a non-empty path string, found ${JSON.stringify(dir)}`);
  if (!existsSync(dir)) makeDir(dir);
  const out = new Map<string, NamedArray>();
  for (const [name, v] of state) {
    // Tensors are read to the host once here (the file is host bytes).
    const t = v instanceof Tensor ? { shape: v.shape, data: v.toArray() } : v;
    if (t.shape.length === 4) out.set(name, ohwiToOihw(t));
    else {
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      if (data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new CheckpointError(`writeDiffusersFolder: '${name}' has ${data.length} values for shape ${fmtShape(t.shape)}`);
      out.set(name, { shape: [...t.shape], data });
    }
  }
  // Weights first, config last: a folder with a config always has the weights that go with it.
  writeSafetensors(join(dir, WEIGHTS_NAME), out, { format: 'pt' });
  writeJSONAtomic(join(dir, CONFIG_NAME), config);
}

/** Whether a scheduler config is a score SDE's (its own keys, checked by sde/config.ts). */
function isSdeSchedulerConfig(c: Record<string, unknown>): boolean {
  const name = c['_class_name'];
  return 'sde' in c || (typeof name === 'string' && name.startsWith('ScoreSde'));
}

/**
 * Reads `scheduler_config.json` from a folder (the scheduler classes interpret it). Its noise
 * schedule is checked here, so a file whose schedule would give NaN images (beta_end 1, betas
 * that destroy the signal before the last step, ...) is refused naming the file and the field.
 */
export function readSchedulerConfig(dir: string): Record<string, unknown> {
  expectFolder(dir);
  const path = join(dir, SCHEDULER_CONFIG_NAME);
  if (!existsSync(path)) throw new CheckpointError(`${dir}: missing ${SCHEDULER_CONFIG_NAME}`);
  const v = readJSONFile(path);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CheckpointError(`${path}: expected a JSON object`);
  const config = v as Record<string, unknown>;
  if (!isSdeSchedulerConfig(config)) {
    try {
      checkScheduleConfig(config);
    } catch (e) {
      if (e instanceof DiffuseError) throw new CheckpointError(`${path}: ${e.message.replace(/^scheduler config: /, '')}`);
      throw e;
    }
  }
  return config;
}

/** Writes `scheduler_config.json` into a folder (created if needed), atomically. */
export function writeSchedulerConfig(dir: string, config: Record<string, unknown>): void {
  if (!existsSync(dir)) makeDir(dir);
  writeJSONAtomic(join(dir, SCHEDULER_CONFIG_NAME), config);
}
