/**
 * Basic layers with PyTorch's parameter names and default initialisation: Conv2d (weights kept
 * OHWI internally; checkpoints convert from OIHW in io/), Linear, GroupNorm, Embedding, Dropout.
 * Init as torch: conv/linear weights and biases U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (kaiming_uniform
 * with a = sqrt(5)), GroupNorm weight 1 and bias 0, Embedding N(0, 1).
 */
import { Tensor } from '../tensor/tensor.js';
import { ones, zeros } from '../tensor/create.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { conv2d, type Conv2dOptions } from '../ops/conv2d.js';
import { linear } from '../ops/matmul.js';
import { groupNorm, groupNormSilu } from '../ops/group_norm.js';
import { embedding, type EmbeddingIndices } from '../ops/embedding.js';
import { mul } from '../ops/binary.js';
import { Module } from './module.js';

/** A positive integer or a clear error naming the layer and argument. */
export function expectPosInt(layer: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ArgumentError(`${layer}: '${name}' must be an integer >= 1, found ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  }
  return v;
}

let skipInit = false;

/**
 * Builds modules without drawing initial values (parameters start at zero): for loading
 * checkpoints, whose values replace them anyway (saves seconds on large models).
 * @example const model = withoutInit(() => new UNet2DModel(config));
 */
export function withoutInit<T>(fn: () => T): T {
  const prev = skipInit;
  skipInit = true;
  try {
    return fn();
  } finally {
    skipInit = prev;
  }
}

/** U(-bound, bound) float32 values of `shape` from `gen` (zeros inside withoutInit). */
export function uniformInit(shape: readonly number[], bound: number, gen: Generator): Tensor {
  if (skipInit) return zeros(shape);
  // On the host, in double and rounded once (init runs once per model; move the model after).
  const u = gen.uniform(shape).toArray(); // [0, 1)
  for (let i = 0; i < u.length; i++) u[i] = (2 * u[i]! - 1) * bound;
  return new Tensor(u, shape);
}

/** The generator used when a layer is built without one (fixed seed: construction is deterministic). */
function defaultGen(gen: Generator | undefined): Generator {
  return gen ?? new Generator(0);
}

export interface Conv2dLayerOptions {
  stride?: number;
  /** As conv2d's: symmetric, [ph, pw] or [top, bottom, left, right]. Default 0. */
  padding?: Conv2dOptions['padding'];
  /** Whether the layer has a bias (default true). */
  bias?: boolean;
  /** Initialisation randomness (default: a generator seeded 0). */
  gen?: Generator;
}

/**
 * torch.nn.Conv2d on NHWC input: parameters `weight` (O, KH, KW, I) (OHWI: our layout; the
 * checkpoint files hold OIHW) and `bias` (O).
 * @example const conv = new Conv2d(32, 64, 3, { padding: 1 }); const y = conv.forward(x);
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly options: Conv2dOptions;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Conv2dLayerOptions = {}) {
    super();
    this.inChannels = expectPosInt('Conv2d', 'inChannels', inChannels);
    this.outChannels = expectPosInt('Conv2d', 'outChannels', outChannels);
    this.kernelSize = expectPosInt('Conv2d', 'kernelSize', kernelSize);
    this.options = { stride: options.stride ?? 1, padding: options.padding ?? 0 };
    const gen = defaultGen(options.gen);
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.registerParameter('weight', uniformInit([outChannels, kernelSize, kernelSize, inChannels], bound, gen));
    if (options.bias ?? true) this.registerParameter('bias', uniformInit([outChannels], bound, gen));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasParam('bias') ? this.param('bias') : null;
  }

  /** x (N, H, W, I) -> (N, OH, OW, O). */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

/**
 * torch.nn.Linear: y = x W^T + b over the last axis; `weight` (out, in), `bias` (out).
 * @example const proj = new Linear(128, 64); const y = proj.forward(temb); // (N, 128) -> (N, 64)
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean; gen?: Generator } = {}) {
    super();
    this.inFeatures = expectPosInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = expectPosInt('Linear', 'outFeatures', outFeatures);
    const gen = defaultGen(options.gen);
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', uniformInit([outFeatures, inFeatures], bound, gen));
    if (options.bias ?? true) this.registerParameter('bias', uniformInit([outFeatures], bound, gen));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasParam('bias') ? this.param('bias') : null;
  }

  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/**
 * torch.nn.GroupNorm over channels-last input (N, ..., C): `weight` (C) and `bias` (C).
 * `forwardSilu` is silu(forward(x)) through the fused kernel.
 * @example const norm = new GroupNorm(8, 32, 1e-5); const h = norm.forwardSilu(x);
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;

  constructor(numGroups: number, numChannels: number, eps = 1e-5) {
    super();
    this.numGroups = expectPosInt('GroupNorm', 'numGroups', numGroups);
    this.numChannels = expectPosInt('GroupNorm', 'numChannels', numChannels);
    if (numChannels % numGroups !== 0) {
      throw new ArgumentError(`GroupNorm: numChannels ${numChannels} is not divisible by numGroups ${numGroups} (check norm_num_groups against block_out_channels)`);
    }
    if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`GroupNorm: 'eps' must be a number >= 0, found ${String(eps)}`);
    this.eps = eps;
    this.registerParameter('weight', ones([numChannels]));
    this.registerParameter('bias', zeros([numChannels]));
  }

  /** x (N, ..., C) normalised per sample and group, then scaled and shifted per channel. */
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.param('weight'), this.param('bias'), this.eps);
  }

  /** silu(forward(x)) in one fused pass (the U-Net's norm -> SiLU pairs). */
  forwardSilu(x: Tensor): Tensor {
    return groupNormSilu(x, this.numGroups, this.param('weight'), this.param('bias'), this.eps);
  }
}

/**
 * torch.nn.Embedding: `weight` (num, dim), rows looked up by integer index.
 * @example const cls = new Embedding(10, 128); const e = cls.forward([3, 1]); // (2, 128)
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;

  constructor(numEmbeddings: number, embeddingDim: number, options: { gen?: Generator } = {}) {
    super();
    this.numEmbeddings = expectPosInt('Embedding', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = expectPosInt('Embedding', 'embeddingDim', embeddingDim);
    this.registerParameter('weight', skipInit ? zeros([numEmbeddings, embeddingDim]) : defaultGen(options.gen).normal([numEmbeddings, embeddingDim]));
  }

  forward(indices: EmbeddingIndices): Tensor {
    return embedding(this.param('weight'), indices);
  }
}

/**
 * torch.nn.Dropout: in training mode zeroes each element with probability p and scales the rest
 * by 1 / (1 - p); identity in eval mode or with p = 0. The mask comes from `generator` (seeded:
 * the same generator state gives the same mask), which the owning model shares among its layers.
 */
export class Dropout extends Module {
  readonly p: number;
  /** Where masks come from; set by the owning model (setDropoutGenerator). */
  generator: Generator | null = null;

  constructor(p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new ArgumentError(`Dropout: 'p' must be a number in [0, 1), found ${String(p)}`);
    this.p = p;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (this.generator === null) this.generator = new Generator(0);
    // U[0, 1) values, made into the mask on the host (there is no comparison op yet).
    const u = this.generator.uniform(x.shape, { dtype: x.dtype }).toArray(x.dtype);
    // Keep an element when u >= p (probability 1 - p), scaled so the expectation is unchanged.
    const keep = 1 / (1 - this.p);
    for (let i = 0; i < u.length; i++) u[i] = u[i]! >= this.p ? keep : 0;
    return mul(x, new Tensor(u, x.shape).to(x.device));
  }
}

/** Throws unless `x` is rank 4 with `c` channels last; names the layer. */
export function expectNHWC(layer: string, x: Tensor, c: number): void {
  if (!(x instanceof Tensor)) throw new ArgumentError(`${layer}: input must be a Tensor (N, H, W, C), found ${typeof x}`);
  if (x.rank !== 4 || x.shape[3] !== c) {
    throw new ShapeError(`${layer}: input has shape ${fmtShape(x.shape)}, expected (N, H, W, ${c}) (NHWC with ${c} channels)`);
  }
}
