/**
 * UNet2DModel, equivalent to diffusers' (same config fields, parameter names and math; NHWC here):
 * the denoising U-Net of DDPM (Ho et al. 2020, appendix B):
 *   emb = TimestepEmbedding(Timesteps(t)) [+ class_embedding(labels)]
 *   h = conv_in(x); down blocks (keeping skips); mid block; up blocks (consuming skips by channel concat);
 *   out = conv_out(SiLU(conv_norm_out(h)))
 * Config fields are diffusers' snake_case names in config.json and camelCase here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { recordModelSource } from '../io/model_source.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { addScalar, mulScalar } from '../ops/scalar.js';
import { add } from '../ops/binary.js';
import { Module, ModuleList } from './module.js';
import { Conv2d, Dropout, Embedding, GroupNorm, withoutInit } from './layers.js';
import { TimestepEmbedding, Timesteps, type Timestep } from './embeddings.js';
import { AttnDownBlock2D, AttnUpBlock2D, DownBlock2D, UNetMidBlock2D, UpBlock2D, type BlockCommon } from './unet_blocks.js';
import type { TimeEmbeddingNorm } from './resnet.js';
import { DIFFUSERS_VERSION, readDiffusersConfig, readDiffusersWeights, writeDiffusersFolder } from '../io/checkpoint.js';
import { markNonfiniteWeights, observeNonfinite, type NonfiniteOptions } from '../io/nonfinite.js';
import { arrayField, boolField, enumField, intField, nullable, numberField, type Field, type ValuesOf } from '../schema/field.js';
import { configToJson as fieldsToJson } from '../schema/config.js';
import { closestName } from '../schema/did_you_mean.js';
import { MemoryBudgetError, checkMemoryBudget } from './memory_budget.js';
import { unetMemoryNeed } from './memory_estimate.js';

/** The down block types we implement (diffusers' names). */
export const DOWN_BLOCK_TYPES = ['DownBlock2D', 'AttnDownBlock2D'] as const;
export type DownBlockType = (typeof DOWN_BLOCK_TYPES)[number];
/** The up block types we implement (diffusers' names). */
export const UP_BLOCK_TYPES = ['UpBlock2D', 'AttnUpBlock2D'] as const;
export type UpBlockType = (typeof UP_BLOCK_TYPES)[number];

/** diffusers' UNet2DModel config (camelCase; config.json uses the snake_case names). */
export interface UNet2DConfig {
  /** Image size (informational, as in diffusers); number or [height, width]. */
  sampleSize: number | [number, number] | null;
  inChannels: number;
  outChannels: number;
  /** x -> 2x - 1 before conv_in. */
  centerInputSample: boolean;
  /** Only 'positional' (sinusoidal) is implemented; 'fourier' is refused. */
  timeEmbeddingType: 'positional';
  /** downscale_freq_shift of the sinusoidal embedding (DDPM checkpoints: 1). */
  freqShift: number;
  flipSinToCos: boolean;
  downBlockTypes: DownBlockType[];
  upBlockTypes: UpBlockType[];
  blockOutChannels: number[];
  layersPerBlock: number;
  midBlockScaleFactor: number;
  /** 0: pad bottom/right by one before each stride-2 conv (DDPM checkpoints); else symmetric. */
  downsamplePadding: number;
  downsampleType: 'conv';
  upsampleType: 'conv';
  dropout: number;
  actFn: 'silu';
  /** Channels per attention head; null: one head over all channels. */
  attentionHeadDim: number | null;
  normNumGroups: number;
  attnNormNumGroups: number | null;
  normEps: number;
  resnetTimeScaleShift: TimeEmbeddingNorm;
  addAttention: boolean;
  /** null: an nn.Embedding when numClassEmbeds is set; 'timestep': a TimestepEmbedding of the sinusoidal label embedding. */
  classEmbedType: null | 'timestep';
  numClassEmbeds: number | null;
  numTrainTimesteps: number | null;
}

/** A field that takes one of a few literal values (JSON strings or null); `note` says why others are refused. */
function literalField<T extends string | null>(key: string, values: readonly T[], def: T, note: string): Field<T> {
  const listed = values.map((v) => (v === null ? 'null' : `'${v}'`)).join(' or ');
  return {
    key,
    default: def,
    allowed: values.length === 1 ? `only ${listed} is supported${note === '' ? '' : ` (${note})`}` : `${listed}${note === '' ? '' : ` (${note})`}`,
    parse: (v) => (values.includes(v as T) ? (v as T) : undefined),
    toJson: (v) => v,
  };
}

const posInt = (key: string, def: number, max: number = Number.MAX_SAFE_INTEGER): Field<number> => intField(key, def, 1, max);

/**
 * Bounds of the fields that size memory. A config.json comes from outside (a download, a hand
 * edit), and one number can ask for terabytes (layers_per_block: 100000) or recurse without end
 * (10,000 levels); these refuse such files by field before anything is allocated. They are far
 * above every real UNet2DModel: diffusers' largest (google/ddpm-ema-church-256, ddpm-celebahq-256)
 * have 6 levels of at most 512 channels, 2 layers per block, sample_size 256; score-SDE's
 * ncsnpp-ffhq-1024 has sample_size 1024; Stable Diffusion's U-Net tops out at 1280 channels.
 */
export const UNET2D_BOUNDS = Object.freeze({
  /** Channels of any block (block_out_channels entries, attention_head_dim, norm groups). */
  channels: 16384,
  /** in_channels and out_channels (images, latents, SR3's 2C, learned variance's 2C). */
  ioChannels: 1024,
  /** block_out_channels entries: one level each, 2^(levels-1) is the downsampling factor. */
  levels: 12,
  layersPerBlock: 64,
  /** sample_size, per side. */
  sampleSize: 16384,
  /** num_class_embeds (ImageNet-21k's 21,841 classes fit). */
  classEmbeds: 100000,
  numTrainTimesteps: 1000000,
});
const B = UNET2D_BOUNDS;
const sizeInt = posInt('', 1, B.sampleSize);

/** UNet2DModel's config.json fields: diffusers' snake_case keys, defaults and the values we implement. */
export const UNET2D_FIELDS = {
  sampleSize: {
    key: 'sample_size',
    default: null,
    allowed: `null, an integer in [1, ${B.sampleSize}] or [height, width] of such integers`,
    parse: (v: unknown) => (v === null ? null : sizeInt.parse(v) ?? (Array.isArray(v) && v.length === 2 && v.every((x) => sizeInt.parse(x) !== undefined) ? ([v[0], v[1]] as [number, number]) : undefined)),
    toJson: (v: number | [number, number] | null) => v,
  } as Field<number | [number, number] | null>,
  inChannels: posInt('in_channels', 3, B.ioChannels),
  outChannels: posInt('out_channels', 3, B.ioChannels),
  centerInputSample: boolField('center_input_sample', false),
  timeEmbeddingType: literalField('time_embedding_type', ['positional'] as const, 'positional', 'Gaussian Fourier features are not implemented'),
  freqShift: numberField('freq_shift', 0),
  flipSinToCos: boolField('flip_sin_to_cos', true),
  downBlockTypes: arrayField('down_block_types', enumField<DownBlockType>('', DOWN_BLOCK_TYPES, 'DownBlock2D'), ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D']),
  upBlockTypes: arrayField('up_block_types', enumField<UpBlockType>('', UP_BLOCK_TYPES, 'UpBlock2D'), ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D']),
  blockOutChannels: { ...arrayField('block_out_channels', posInt('', 1, B.channels), [224, 448, 672, 896], 1, B.levels), allowed: `a list of 1 to ${B.levels} integers in [1, ${B.channels}] (one per level)` },
  layersPerBlock: posInt('layers_per_block', 2, B.layersPerBlock),
  midBlockScaleFactor: { ...numberField('mid_block_scale_factor', 1), allowed: 'a finite non-zero number', parse: (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v !== 0 ? v : undefined) } as Field<number>,
  // diffusers' Downsample2D pads 0 (then pads right/bottom by one) or 1; more changes the halved sizes and breaks the skips.
  downsamplePadding: intField('downsample_padding', 1, 0, 1),
  downsampleType: literalField('downsample_type', ['conv'] as const, 'conv', ''),
  upsampleType: literalField('upsample_type', ['conv'] as const, 'conv', ''),
  dropout: numberField('dropout', 0, 0, 1, false, true),
  actFn: { ...literalField('act_fn', ['silu'] as const, 'silu', "alias 'swish'"), parse: (v: unknown) => (v === 'silu' || v === 'swish' ? 'silu' : undefined) } as Field<'silu'>,
  attentionHeadDim: nullable(posInt('attention_head_dim', 8, B.channels), 8),
  normNumGroups: posInt('norm_num_groups', 32, B.channels),
  attnNormNumGroups: nullable(posInt('attn_norm_num_groups', 1, B.channels)),
  normEps: numberField('norm_eps', 1e-5, 0, Infinity, true),
  resnetTimeScaleShift: literalField<TimeEmbeddingNorm>('resnet_time_scale_shift', ['default', 'scale_shift'], 'default', ''),
  addAttention: boolField('add_attention', true),
  classEmbedType: literalField('class_embed_type', [null, 'timestep'] as const, null, "'identity' and others are not supported"),
  numClassEmbeds: nullable(posInt('num_class_embeds', 1, B.classEmbeds)),
  numTrainTimesteps: nullable(posInt('num_train_timesteps', 1000, B.numTrainTimesteps)),
} as const;

/** diffusers' defaults for UNet2DModel (from UNET2D_FIELDS). */
export const UNET2D_DEFAULTS: Readonly<UNet2DConfig> = Object.freeze(
  Object.fromEntries(Object.entries(UNET2D_FIELDS).map(([k, f]) => [k, Array.isArray(f.default) ? [...(f.default as unknown[])] : f.default])),
) as unknown as Readonly<UNet2DConfig>;

/** A config error: names the field (snake_case, as in config.json), the value and what is allowed. */
export class ConfigError extends ArgumentError {}

/** A value for a message: its JSON, or for a long list its length and first entries (a 10,000-entry list is not echoed whole). */
function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  if (json.length <= 200) return json;
  if (Array.isArray(value)) return `a list of ${value.length} entries (${JSON.stringify(value.slice(0, 4)).slice(0, 100).replace(/]$/, ', ...]')})`;
  return `${json.slice(0, 200)}...`;
}

function bad(field: keyof UNet2DConfig, value: unknown, expected: string): never {
  throw new ConfigError(`UNet2DModel config: field '${UNET2D_FIELDS[field].key}' (${field}) is ${shown(value)}; ${expected}`);
}

/**
 * A complete, validated config from a partial one (missing fields take diffusers' defaults).
 * Unsupported values (a block type we lack, 'fourier' time embedding, ...) throw a ConfigError
 * naming the field and the value.
 * @example resolveConfig({ blockOutChannels: [32, 64], downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'] })
 */
export function resolveConfig(partial: Partial<UNet2DConfig> = {}): UNet2DConfig {
  if (partial === null || typeof partial !== 'object') throw new ConfigError(`UNet2DModel config must be an object, found ${partial === null ? 'null' : typeof partial}`);
  for (const k of Object.keys(partial)) {
    if (!(k in UNET2D_FIELDS)) {
      const guess = closestName(k, Object.keys(UNET2D_FIELDS));
      throw new ConfigError(`UNet2DModel config: unknown field '${k}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`} (known: ${Object.keys(UNET2D_FIELDS).join(', ')})`);
    }
  }
  const c = { ...UNET2D_DEFAULTS, ...partial } as UNet2DConfig;
  // Block types first, so an unsupported one is named (not just "a list of ...").
  const blocks = [['downBlockTypes', DOWN_BLOCK_TYPES], ['upBlockTypes', UP_BLOCK_TYPES]] as const;
  for (const [name, supported] of blocks) {
    const list = c[name] as unknown;
    const t = Array.isArray(list) ? list.find((x) => !(supported as readonly unknown[]).includes(x)) : undefined;
    if (t !== undefined) bad(name, list, `block type ${JSON.stringify(t)} is not supported (supported: ${supported.join(', ')})`);
  }
  // Each field alone (type, range, supported values), then the rules between fields.
  for (const [name, f] of Object.entries(UNET2D_FIELDS) as [keyof UNet2DConfig, Field<unknown>][]) {
    const v = f.parse(c[name]);
    if (v === undefined) bad(name, c[name], f.allowed.startsWith('only ') ? f.allowed : `expected ${f.allowed}`);
    (c as unknown as Record<string, unknown>)[name] = v;
  }
  const levels = c.blockOutChannels.length;
  if (c.downBlockTypes.length !== levels) bad('downBlockTypes', c.downBlockTypes, `expected a list of ${levels} block types (one per block_out_channels entry)`);
  if (c.upBlockTypes.length !== levels) bad('upBlockTypes', c.upBlockTypes, `expected a list of ${levels} block types (one per block_out_channels entry)`);
  for (const ch of c.blockOutChannels) {
    if (ch % c.normNumGroups !== 0) bad('normNumGroups', c.normNumGroups, `it must divide every block_out_channels entry, and ${ch} is not a multiple`);
  }
  if (c.attnNormNumGroups !== null) {
    if (c.blockOutChannels[levels - 1]! % c.attnNormNumGroups !== 0) {
      bad('attnNormNumGroups', c.attnNormNumGroups, `expected null or an integer >= 1 dividing ${c.blockOutChannels[levels - 1]}`);
    }
  }
  if (c.attentionHeadDim !== null) {
    c.blockOutChannels.forEach((ch, i) => {
      const usesAttention = c.downBlockTypes[i] === 'AttnDownBlock2D' || c.upBlockTypes[levels - 1 - i] === 'AttnUpBlock2D' || (i === levels - 1 && c.addAttention);
      if (usesAttention && c.attentionHeadDim! > ch) bad('attentionHeadDim', c.attentionHeadDim, `it exceeds the ${ch} channels of an attention layer (no whole head fits)`);
    });
  }
  // The config's own sample size must survive its halvings (one per level below the top).
  if (c.sampleSize !== null) {
    const factor = 2 ** (levels - 1);
    const [h, w] = Array.isArray(c.sampleSize) ? c.sampleSize : [c.sampleSize, c.sampleSize];
    if (h % factor !== 0 || w % factor !== 0) bad('sampleSize', c.sampleSize, `the U-Net halves it ${levels - 1} time(s), so it must be a multiple of ${factor}`);
  }
  return {
    ...c,
    downBlockTypes: [...c.downBlockTypes],
    upBlockTypes: [...c.upBlockTypes],
    blockOutChannels: [...c.blockOutChannels],
    sampleSize: Array.isArray(c.sampleSize) ? [c.sampleSize[0], c.sampleSize[1]] : c.sampleSize,
  };
}

/**
 * A validated config from a diffusers config.json object (snake_case). Keys starting with '_'
 * and keys UNet2DModel does not know are ignored, as diffusers does.
 */
export function configFromJSON(json: unknown): UNet2DConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`UNet2DModel config.json must hold a JSON object, found ${Array.isArray(json) ? 'an array' : typeof json}`);
  const obj = json as Record<string, unknown>;
  const cls = obj['_class_name'];
  if (cls !== undefined && cls !== 'UNet2DModel') throw new ConfigError(`config.json: '_class_name' is ${JSON.stringify(cls)}, expected "UNet2DModel"`);
  const partial: Record<string, unknown> = {};
  for (const [camel, f] of Object.entries(UNET2D_FIELDS)) {
    if (!Object.prototype.hasOwnProperty.call(obj, f.key)) continue;
    // A null for a field that cannot be null is read as "use the default" (lenient, for hand-written configs).
    if (obj[f.key] === null && f.parse(null) === undefined) continue;
    partial[camel] = obj[f.key];
  }
  return resolveConfig(partial as Partial<UNet2DConfig>);
}

/** The diffusers config.json object (snake_case, every field, plus _class_name and _diffusers_version). */
export function configToJSON(config: UNet2DConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { _class_name: 'UNet2DModel', _diffusers_version: DIFFUSERS_VERSION };
  return { ...out, ...fieldsToJson(UNET2D_FIELDS, config as unknown as ValuesOf<typeof UNET2D_FIELDS>) };
}

export interface UNet2DModelOptions {
  /** Initialisation randomness (default: a generator seeded 0). */
  gen?: Generator;
  /** Where dropout masks come from in training mode (default: a generator seeded 1). */
  dropoutGenerator?: Generator;
}

export interface UNet2DForwardOptions {
  /** If given, filled with the outputs of the top-level parts (diffusers' module names), for debugging. */
  intermediates?: Map<string, Tensor>;
}

/** The spatial factor the input must be divisible by: one halving per down block with a downsampler. */
function downFactor(config: UNet2DConfig): number {
  return 2 ** (config.blockOutChannels.length - 1);
}

/**
 * diffusers' UNet2DModel on NHWC tensors.
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist');
 * const eps = noGrad(() => model.forward(xt, [999, 999], [3, 7])); // xt (2, 28, 28, 1)
 */
export class UNet2DModel extends Module {
  readonly config: Readonly<UNet2DConfig>;
  readonly conv_in: Conv2d;
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly class_embedding: Embedding | TimestepEmbedding | null;
  readonly down_blocks: ModuleList<DownBlock2D>;
  readonly up_blocks: ModuleList<UpBlock2D>;
  readonly mid_block: UNetMidBlock2D;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;
  #dropoutGen: Generator;

  constructor(config: Partial<UNet2DConfig> = {}, options: UNet2DModelOptions = {}) {
    super();
    const c = resolveConfig(config);
    // The parameters' size is known from the config: refuse before allocating what cannot fit.
    checkMemoryBudget(unetMemoryNeed("the U-Net's parameters", c, null, 'use a smaller config (narrower or fewer blocks, fewer layers per block, fewer classes)'));
    this.config = Object.freeze(c);
    const gen = options.gen ?? new Generator(0);
    const g = { gen };
    const boc = c.blockOutChannels;
    const levels = boc.length;
    const tembDim = boc[0]! * 4;
    const common: BlockCommon = {
      tembChannels: tembDim,
      resnetGroups: c.normNumGroups,
      resnetEps: c.normEps,
      dropout: c.dropout,
      resnetTimeScaleShift: c.resnetTimeScaleShift,
      gen,
    };

    // Registration order is diffusers' (its mid_block is registered after up_blocks).
    this.conv_in = this.registerModule('conv_in', new Conv2d(c.inChannels, boc[0]!, 3, { padding: 1, ...g }));
    this.time_proj = this.registerModule('time_proj', new Timesteps(boc[0]!, c.flipSinToCos, c.freqShift));
    this.time_embedding = this.registerModule('time_embedding', new TimestepEmbedding(boc[0]!, tembDim, g));
    if (c.classEmbedType === 'timestep') this.class_embedding = this.registerModule('class_embedding', new TimestepEmbedding(boc[0]!, tembDim, g));
    else if (c.numClassEmbeds !== null) this.class_embedding = this.registerModule('class_embedding', new Embedding(c.numClassEmbeds, tembDim, g));
    else this.class_embedding = null;

    const down: DownBlock2D[] = [];
    let outCh = boc[0]!;
    c.downBlockTypes.forEach((type, i) => {
      const inCh = outCh;
      outCh = boc[i]!;
      const o = {
        ...common,
        inChannels: inCh,
        outChannels: outCh,
        numLayers: c.layersPerBlock,
        addDownsample: i !== levels - 1,
        downsamplePadding: c.downsamplePadding,
        attentionHeadDim: c.attentionHeadDim ?? outCh,
      };
      down.push(type === 'AttnDownBlock2D' ? new AttnDownBlock2D(o) : new DownBlock2D(o));
    });
    this.down_blocks = this.registerModule('down_blocks', new ModuleList(down));

    const mid = new UNetMidBlock2D({
      ...common,
      inChannels: boc[levels - 1]!,
      outputScaleFactor: c.midBlockScaleFactor,
      addAttention: c.addAttention,
      attentionHeadDim: c.attentionHeadDim ?? boc[levels - 1]!,
      attnGroups: c.attnNormNumGroups,
    });

    const rev = [...boc].reverse();
    const up: UpBlock2D[] = [];
    outCh = rev[0]!;
    c.upBlockTypes.forEach((type, i) => {
      const prev = outCh;
      outCh = rev[i]!;
      const o = {
        ...common,
        inChannels: rev[Math.min(i + 1, levels - 1)]!,
        prevOutputChannels: prev,
        outChannels: outCh,
        numLayers: c.layersPerBlock + 1,
        addUpsample: i !== levels - 1,
        attentionHeadDim: c.attentionHeadDim ?? outCh,
      };
      up.push(type === 'AttnUpBlock2D' ? new AttnUpBlock2D(o) : new UpBlock2D(o));
    });
    this.up_blocks = this.registerModule('up_blocks', new ModuleList(up));
    this.mid_block = this.registerModule('mid_block', mid);
    this.conv_norm_out = this.registerModule('conv_norm_out', new GroupNorm(c.normNumGroups, boc[0]!, c.normEps));
    this.conv_out = this.registerModule('conv_out', new Conv2d(boc[0]!, c.outChannels, 3, { padding: 1, ...g }));

    this.#dropoutGen = options.dropoutGenerator ?? new Generator(1);
    this.setDropoutGenerator(this.#dropoutGen);
  }

  /** The generator every dropout layer draws its masks from. */
  get dropoutGenerator(): Generator {
    return this.#dropoutGen;
  }

  /** Shares `gen` among all dropout layers (save its state with a training checkpoint to resume exactly). */
  setDropoutGenerator(gen: Generator): void {
    if (!(gen instanceof Generator)) throw new ArgumentError(`UNet2DModel.setDropoutGenerator: expected a Generator, found ${typeof gen}`);
    this.#dropoutGen = gen;
    for (const [, m] of this.namedModules()) if (m instanceof Dropout) m.generator = gen;
  }

  /** The parameters' dtype (float32; float64 after `to('float64')`, for gradient checks). */
  get dtype(): DType {
    return this.conv_in.weight.dtype;
  }

  /**
   * The noise (or v, or x0) prediction for x (N, H, W, inChannels) at `timesteps` (one number for
   * the batch or one per sample; fractional values allowed) with optional integer `classLabels`
   * (required when the model has a class embedding). Returns (N, H, W, outChannels).
   */
  forward(x: Tensor, timesteps: Timestep, classLabels?: readonly number[] | Int32Array | null, options: UNet2DForwardOptions = {}): Tensor {
    const c = this.config;
    const op = 'UNet2DModel.forward';
    if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: 'x' must be a Tensor (N, H, W, ${c.inChannels}), found ${x === null ? 'null' : typeof x}`);
    if (x.rank !== 4 || x.shape[3] !== c.inChannels) {
      throw new ShapeError(`${op}: input 'x' has shape ${fmtShape(x.shape)}, expected (N, H, W, ${c.inChannels}) (NHWC with in_channels = ${c.inChannels})`);
    }
    const [n, h, w] = x.shape as [number, number, number, number];
    const f = downFactor(c);
    if (h % f !== 0 || w % f !== 0) {
      throw new ShapeError(`${op}: input 'x' has shape ${fmtShape(x.shape)}; height and width must be multiples of ${f} (the ${c.blockOutChannels.length - 1} downsamplings must halve them exactly), found ${h}x${w}`);
    }
    if (x.dtype !== this.dtype) throw new DTypeError(`${op}: input 'x' is ${x.dtype} but the model's parameters are ${this.dtype}`);
    const dtype = this.dtype;
    const keep = options.intermediates;
    const record = (name: string, t: Tensor): Tensor => {
      if (keep !== undefined) keep.set(name, t);
      return t;
    };

    // 1. time (and class) embedding
    const tProj = record('time_proj', this.time_proj.forward(timesteps, n, dtype)); // (N, C0), float32 math
    let emb = record('time_embedding', this.time_embedding.forward(tProj)); // (N, 4 C0)
    if (this.class_embedding !== null) {
      if (classLabels === undefined || classLabels === null) {
        throw new ArgumentError(`${op}: this model has a class embedding (num_class_embeds = ${c.numClassEmbeds}); pass classLabels, one integer per sample`);
      }
      const labels = this.#labels(classLabels, n);
      const classEmb =
        this.class_embedding instanceof Embedding
          ? this.class_embedding.forward(labels)
          : this.class_embedding.forward(this.time_proj.forward(Float32Array.from(labels), n, dtype));
      emb = add(emb, record('class_embedding', classEmb));
    } else if (classLabels !== undefined && classLabels !== null) {
      throw new ArgumentError(`${op}: classLabels were given but this model has no class embedding (num_class_embeds is null)`);
    }

    // 2. pre-process
    let sample = c.centerInputSample ? addScalar(mulScalar(x, 2), -1) : x;
    sample = record('conv_in', this.conv_in.forward(sample)); // (N, H, W, C0)

    // 3. down: every resnet/attention output and every downsampled map is a skip
    const skips: Tensor[] = [sample];
    this.down_blocks.items.forEach((block, i) => {
      const r = block.forward(sample, emb);
      sample = record(`down_blocks.${i}`, r.h);
      skips.push(...r.skips);
    });

    // 4. mid
    sample = record('mid_block', this.mid_block.forward(sample, emb));

    // 5. up: each block consumes as many skips as it has resnets, newest first
    this.up_blocks.items.forEach((block, i) => {
      sample = record(`up_blocks.${i}`, block.forward(sample, skips, emb));
    });

    // 6. post-process: GroupNorm + SiLU fused, then conv_out
    const act = record('conv_act', this.conv_norm_out.forwardSilu(sample));
    return record('conv_out', this.conv_out.forward(act));
  }

  #labels(classLabels: readonly number[] | Int32Array, n: number): Int32Array {
    const op = 'UNet2DModel.forward';
    if (!Array.isArray(classLabels) && !(classLabels instanceof Int32Array)) {
      throw new ArgumentError(`${op}: classLabels must be an array of integers or an Int32Array, found ${typeof classLabels}`);
    }
    const arr = classLabels.length === 1 && n !== 1 ? new Array<number>(n).fill(classLabels[0]!) : classLabels;
    if (arr.length !== n) throw new ArgumentError(`${op}: ${arr.length} class labels for a batch of ${n}; give one per sample`);
    const k = this.config.numClassEmbeds;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = arr[i];
      const ok = typeof v === 'number' && Number.isInteger(v) && v >= 0 && (this.config.classEmbedType === 'timestep' || k === null || v < k);
      if (!ok) throw new ArgumentError(`${op}: class label ${i} is ${String(v)}, expected an integer in [0, ${k === null ? 'inf' : k - 1}] (num_class_embeds = ${k})`);
      out[i] = v;
    }
    return out;
  }

  /**
   * Loads a model saved in diffusers' folder layout (config.json + diffusion_pytorch_model.safetensors),
   * including public DDPM checkpoints with legacy attention names. The model is in eval mode.
   * Weights holding NaN or Inf are refused (the error names the tensors) unless `allowNonfinite`.
   * A pipeline folder (model_index.json beside unet/) is accepted as diffusers accepts it with
   * `subfolder: 'unet'`: the U-Net in `dir/unet` is loaded (`options.subfolder` names another).
   * @example const model = UNet2DModel.fromPretrained('models/fashion-mnist'); // its unet/
   */
  static fromPretrained(dir: string, options: UNet2DModelOptions & NonfiniteOptions & { subfolder?: string } = {}): UNet2DModel {
    if (options.subfolder !== undefined) dir = join(dir, options.subfolder);
    else if (!existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'unet', 'config.json'))) dir = join(dir, 'unet');
    const config = readDiffusersConfig(dir);
    let model: UNet2DModel;
    try {
      // The checkpoint's values replace the initial ones: skip drawing them.
      model = withoutInit(() => new UNet2DModel(configFromJSON(config), options));
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${dir}/config.json: ${e.message}`);
      if (e instanceof MemoryBudgetError) throw new MemoryBudgetError(`${dir}/config.json: ${e.message}`);
      throw e;
    }
    // The config is checked (above) before the possibly large weights file is read.
    const seen = observeNonfinite(options);
    const tensors = readDiffusersWeights(dir, seen.options);
    try {
      model.loadStateDict(tensors, { strict: true });
    } catch (e) {
      if (e instanceof Error) e.message = `${dir}: ${e.message}`;
      throw e;
    }
    if (seen.found()) markNonfiniteWeights(model);
    recordModelSource(model, dir);
    return model.eval();
  }

  /**
   * Writes config.json and diffusion_pytorch_model.safetensors (PyTorch names, OIHW conv weights)
   * into `dir` (created if needed), each atomically; diffusers' from_pretrained loads the result.
   */
  savePretrained(dir: string): void {
    if (this.dtype !== 'float32') throw new DTypeError(`UNet2DModel.savePretrained: the model is ${this.dtype}; cast it back with to('float32') first`);
    writeDiffusersFolder(dir, configToJSON(this.config as UNet2DConfig), this.stateDict());
  }
}
