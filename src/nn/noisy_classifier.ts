/**
 * The noise-conditional classifier of classifier guidance (Dhariwal & Nichol 2021, sec. 4 and
 * appendix: guided-diffusion's EncoderUNetModel): the U-Net's encoder half, then pooling and a
 * linear head, trained on noisy images x_t at random t to predict p(y | x_t, t):
 *   emb = TimestepEmbedding(Timesteps(t));  h = conv_in(x_t);  down blocks;  mid block;
 *   logits = Linear(mean_{H,W} SiLU(GroupNorm(h)))          (guided-diffusion's pool = 'adaptive')
 * Built from the U-Net's own blocks (nn/unet_blocks.ts), so layer names follow diffusers'
 * (time_embedding.linear_1, down_blocks.0.resnets.0.conv1, mid_block.attentions.0, ...).
 * Saved like a diffusers model folder: config.json (class NoisyClassifier, snake_case fields) and
 * diffusion_pytorch_model.safetensors (OIHW conv weights).
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { mean } from '../ops/reduce.js';
import { Module, ModuleList } from './module.js';
import { Conv2d, GroupNorm, Linear, withoutInit } from './layers.js';
import { TimestepEmbedding, Timesteps, type Timestep } from './embeddings.js';
import { AttnDownBlock2D, DownBlock2D, UNetMidBlock2D, type BlockCommon } from './unet_blocks.js';
import { DOWN_BLOCK_TYPES, UNET2D_BOUNDS, type DownBlockType } from './unet_2d.js';
import { classifierParameterCount } from './memory_estimate.js';
import { checkMemoryBudget } from './memory_budget.js';
import { readDiffusersConfig, readDiffusersWeights, writeDiffusersFolder } from '../io/checkpoint.js';
import { markNonfiniteWeights, observeNonfinite, type NonfiniteOptions } from '../io/nonfinite.js';
import { arrayField, boolField, enumField, intField, numberField, type Field, type ValuesOf } from '../schema/field.js';
import { configToJson as fieldsToJson } from '../schema/config.js';
import { closestName } from '../schema/did_you_mean.js';

/** The classifier's configuration (config.json holds the snake_case names). */
export interface NoisyClassifierConfig {
  /** Image height = width. */
  sampleSize: number;
  inChannels: number;
  numClasses: number;
  blockOutChannels: number[];
  downBlockTypes: DownBlockType[];
  layersPerBlock: number;
  /** Attention in the mid block. */
  addAttention: boolean;
  attentionHeadDim: number;
  normNumGroups: number;
  normEps: number;
  freqShift: number;
  flipSinToCos: boolean;
}

/** The bounds of the fields that size memory: the U-Net's (a config.json comes from outside). */
const B = UNET2D_BOUNDS;

/** config.json's fields (snake_case keys; defaults: a small classifier for 28x28 Fashion-MNIST, 32/64/64 channels, attention at 7x7). */
export const NOISY_CLASSIFIER_FIELDS = {
  sampleSize: intField('sample_size', 28, 1, B.sampleSize),
  inChannels: intField('in_channels', 1, 1, B.ioChannels),
  numClasses: { ...intField('num_classes', 10, 2, B.classEmbeds), allowed: `an integer >= 2 (at most ${B.classEmbeds})` },
  blockOutChannels: { ...arrayField('block_out_channels', intField('', 1, 1, B.channels), [32, 64, 64], 1, B.levels), allowed: `a list of 1 to ${B.levels} integers in [1, ${B.channels}] (one per level)` },
  downBlockTypes: arrayField('down_block_types', enumField<DownBlockType>('', DOWN_BLOCK_TYPES, 'DownBlock2D'), ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'], 1),
  layersPerBlock: intField('layers_per_block', 1, 1, B.layersPerBlock),
  addAttention: boolField('add_attention', true),
  attentionHeadDim: intField('attention_head_dim', 8, 1, B.channels),
  normNumGroups: intField('norm_num_groups', 8, 1, B.channels),
  normEps: numberField('norm_eps', 1e-5, 0, Infinity, true),
  freqShift: numberField('freq_shift', 0),
  flipSinToCos: boolField('flip_sin_to_cos', true),
} as const;

/** The defaults (from NOISY_CLASSIFIER_FIELDS). */
export const NOISY_CLASSIFIER_DEFAULTS: Readonly<NoisyClassifierConfig> = Object.freeze(
  Object.fromEntries(Object.entries(NOISY_CLASSIFIER_FIELDS).map(([k, f]) => [k, Array.isArray(f.default) ? [...(f.default as unknown[])] : f.default])),
) as unknown as Readonly<NoisyClassifierConfig>;

/** The `_class_name` of the classifier's config.json. */
export const NOISY_CLASSIFIER_CLASS = 'NoisyClassifier';

function bad(field: keyof NoisyClassifierConfig, value: unknown, expected: string): never {
  throw new ArgumentError(`NoisyClassifier config: '${NOISY_CLASSIFIER_FIELDS[field].key}' is ${JSON.stringify(value)}; expected ${expected}`);
}

/**
 * A complete, validated config from a partial one (missing fields take the defaults).
 * @example resolveClassifierConfig({ sampleSize: 8, blockOutChannels: [8, 16], downBlockTypes: ['DownBlock2D', 'DownBlock2D'], numClasses: 3 })
 */
export function resolveClassifierConfig(partial: Partial<NoisyClassifierConfig> = {}): NoisyClassifierConfig {
  if (partial === null || typeof partial !== 'object') throw new ArgumentError(`NoisyClassifier config must be an object, found ${partial === null ? 'null' : typeof partial}`);
  for (const k of Object.keys(partial)) {
    if (!(k in NOISY_CLASSIFIER_FIELDS)) {
      const guess = closestName(k, Object.keys(NOISY_CLASSIFIER_FIELDS));
      throw new ArgumentError(`NoisyClassifier config: unknown field '${k}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`} (known: ${Object.keys(NOISY_CLASSIFIER_FIELDS).join(', ')})`);
    }
  }
  const c = { ...NOISY_CLASSIFIER_DEFAULTS, ...partial } as NoisyClassifierConfig;
  for (const [name, f] of Object.entries(NOISY_CLASSIFIER_FIELDS) as [keyof NoisyClassifierConfig, Field<unknown>][]) {
    if (f.parse(c[name]) === undefined) bad(name, c[name], f.allowed);
  }
  // The rules between fields.
  const levels = c.blockOutChannels.length;
  if (c.downBlockTypes.length !== levels) bad('downBlockTypes', c.downBlockTypes, `${levels} block types from ${DOWN_BLOCK_TYPES.join(', ')} (one per block_out_channels entry)`);
  if (c.sampleSize % 2 ** (levels - 1) !== 0) bad('sampleSize', c.sampleSize, `a multiple of ${2 ** (levels - 1)} (${levels - 1} halvings)`);
  if (!c.blockOutChannels.every((ch) => ch % c.normNumGroups === 0)) bad('normNumGroups', c.normNumGroups, 'an integer >= 1 dividing every block_out_channels entry');
  return { ...c, blockOutChannels: [...c.blockOutChannels], downBlockTypes: [...c.downBlockTypes] };
}

/** The config as config.json contents (snake_case, with _class_name). */
export function classifierConfigToJSON(c: NoisyClassifierConfig): Record<string, unknown> {
  return { _class_name: NOISY_CLASSIFIER_CLASS, ...fieldsToJson(NOISY_CLASSIFIER_FIELDS, c as unknown as ValuesOf<typeof NOISY_CLASSIFIER_FIELDS>) };
}

/** A validated config from config.json contents (snake_case; '_' keys ignored). */
export function classifierConfigFromJSON(json: unknown, source = 'config.json'): NoisyClassifierConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ArgumentError(`${source}: expected a JSON object`);
  const obj = json as Record<string, unknown>;
  if (obj['_class_name'] !== NOISY_CLASSIFIER_CLASS) {
    throw new ArgumentError(`${source}: '_class_name' is ${JSON.stringify(obj['_class_name'])}, expected "${NOISY_CLASSIFIER_CLASS}" (a classifier trained with 'diffuse train-classifier')`);
  }
  const partial: Record<string, unknown> = {};
  for (const [camel, f] of Object.entries(NOISY_CLASSIFIER_FIELDS)) if (Object.prototype.hasOwnProperty.call(obj, f.key)) partial[camel] = obj[f.key];
  try {
    return resolveClassifierConfig(partial as Partial<NoisyClassifierConfig>);
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(`${source}: ${e.message}`);
    throw e;
  }
}

/**
 * p(y | x_t, t) as logits: the U-Net encoder (guided-diffusion's EncoderUNetModel, average pooling).
 * @example
 * const clf = NoisyClassifier.fromPretrained('runs/clf/model');
 * const logits = noGrad(() => clf.forward(xt, 500)); // (N, 10)
 */
export class NoisyClassifier extends Module {
  readonly config: Readonly<NoisyClassifierConfig>;
  readonly conv_in: Conv2d;
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly down_blocks: ModuleList<DownBlock2D>;
  readonly mid_block: UNetMidBlock2D;
  readonly norm_out: GroupNorm;
  readonly head: Linear;

  constructor(config: Partial<NoisyClassifierConfig> = {}, options: { gen?: Generator } = {}) {
    super();
    const c = resolveClassifierConfig(config);
    // The parameters must fit the memory budget before any is allocated (bounded fields can still multiply up).
    const params = classifierParameterCount(c);
    checkMemoryBudget({ what: 'NoisyClassifier: its parameters', bytes: params * 4, parts: [`${(params / 1e6).toFixed(1)}M parameters x 4 bytes`], fix: 'use smaller block_out_channels or fewer layers_per_block' });
    this.config = Object.freeze(c);
    const gen = options.gen ?? new Generator(0);
    const boc = c.blockOutChannels;
    const levels = boc.length;
    const tembDim = boc[0]! * 4;
    const common: BlockCommon = { tembChannels: tembDim, resnetGroups: c.normNumGroups, resnetEps: c.normEps, dropout: 0, resnetTimeScaleShift: 'default', gen };
    this.conv_in = this.registerModule('conv_in', new Conv2d(c.inChannels, boc[0]!, 3, { padding: 1, gen }));
    this.time_proj = this.registerModule('time_proj', new Timesteps(boc[0]!, c.flipSinToCos, c.freqShift));
    this.time_embedding = this.registerModule('time_embedding', new TimestepEmbedding(boc[0]!, tembDim, { gen }));
    let outCh = boc[0]!;
    const down = c.downBlockTypes.map((type, i) => {
      const inCh = outCh;
      outCh = boc[i]!;
      const o = { ...common, inChannels: inCh, outChannels: outCh, numLayers: c.layersPerBlock, addDownsample: i !== levels - 1, downsamplePadding: 1, attentionHeadDim: Math.min(c.attentionHeadDim, outCh) };
      return type === 'AttnDownBlock2D' ? new AttnDownBlock2D(o) : new DownBlock2D(o);
    });
    this.down_blocks = this.registerModule('down_blocks', new ModuleList(down));
    this.mid_block = this.registerModule(
      'mid_block',
      new UNetMidBlock2D({ ...common, inChannels: outCh, addAttention: c.addAttention, attentionHeadDim: Math.min(c.attentionHeadDim, outCh), attnGroups: null }),
    );
    this.norm_out = this.registerModule('norm_out', new GroupNorm(c.normNumGroups, outCh, c.normEps));
    this.head = this.registerModule('head', new Linear(outCh, c.numClasses, { gen }));
  }

  get dtype(): DType {
    return this.conv_in.weight.dtype;
  }

  /** Logits (N, numClasses) of x_t (N, H, W, inChannels) at `timesteps` (one, or one per sample; fractional allowed). */
  forward(x: Tensor, timesteps: Timestep): Tensor {
    const c = this.config;
    const op = 'NoisyClassifier.forward';
    if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: 'x' must be a Tensor (N, H, W, ${c.inChannels}), found ${x === null ? 'null' : typeof x}`);
    const f = 2 ** (c.blockOutChannels.length - 1);
    if (x.rank !== 4 || x.shape[3] !== c.inChannels || x.shape[1]! % f !== 0 || x.shape[2]! % f !== 0) {
      throw new ShapeError(`${op}: input 'x' has shape ${fmtShape(x.shape)}, expected (N, H, W, ${c.inChannels}) with H and W multiples of ${f} (the classifier was trained on ${c.sampleSize}x${c.sampleSize})`);
    }
    if (x.dtype !== this.dtype) throw new DTypeError(`${op}: input 'x' is ${x.dtype} but the parameters are ${this.dtype}`);
    const n = x.shape[0]!;
    const emb = this.time_embedding.forward(this.time_proj.forward(timesteps, n, this.dtype)); // (N, 4 C0)
    let h = this.conv_in.forward(x); // (N, H, W, C0)
    for (const block of this.down_blocks.items) h = block.forward(h, emb).h;
    h = this.mid_block.forward(h, emb); // (N, H / f, W / f, C)
    const pooled = mean(this.norm_out.forwardSilu(h), [1, 2]); // (N, C)
    return this.head.forward(pooled); // (N, K)
  }

  /** Writes config.json and the weights (diffusers' folder layout) into `dir`, each atomically. */
  savePretrained(dir: string): void {
    if (this.dtype !== 'float32') throw new DTypeError(`NoisyClassifier.savePretrained: the model is ${this.dtype}; cast it back with to('float32') first`);
    writeDiffusersFolder(dir, classifierConfigToJSON(this.config as NoisyClassifierConfig), this.stateDict());
  }

  /**
   * Loads a classifier folder written by savePretrained (config checked before the weights are read), in eval mode;
   * weights holding NaN or Inf are refused unless `allowNonfinite`.
   * @example const clf = NoisyClassifier.fromPretrained('runs/clf/model');
   */
  static fromPretrained(dir: string, options: NonfiniteOptions = {}): NoisyClassifier {
    const config = classifierConfigFromJSON(readDiffusersConfig(dir), `${dir}/config.json`);
    const model = withoutInit(() => new NoisyClassifier(config));
    const seen = observeNonfinite(options);
    const tensors = readDiffusersWeights(dir, seen.options);
    try {
      model.loadStateDict(tensors, { strict: true });
    } catch (e) {
      if (e instanceof Error) e.message = `${dir}: ${e.message}`;
      throw e;
    }
    if (seen.found()) markNonfiniteWeights(model);
    return model.eval();
  }
}
