/**
 * Timestep embeddings, as diffusers' `get_timestep_embedding` / `Timesteps` / `TimestepEmbedding`:
 * the sinusoidal position encoding of Vaswani et al. 2017 (sec. 3.5) used by DDPM (Ho et al. 2020):
 *   freq_i = exp(-ln(maxPeriod) * i / (half - downscaleFreqShift)),  i = 0 .. half-1
 *   emb(t) = [sin(t * freq), cos(t * freq)]   ([cos, sin] with flipSinToCos)
 * computed step by step in float32 as diffusers does (so float32 and float64 models see the same
 * embedding), then an MLP: linear_1 -> SiLU -> linear_2.
 */
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { ArgumentError } from '../tensor/errors.js';
import type { Generator } from '../tensor/random.js';
import { silu } from '../ops/unary.js';
import { Module } from './module.js';
import { Linear, expectPosInt } from './layers.js';

/** What a model accepts as timesteps: one for the whole batch, or one per sample (fractional allowed). */
export type Timestep = number | readonly number[] | Float32Array | Float64Array;

/** Timesteps as a float32 array of length `n` (a single value is repeated); throws on non-finite values. */
export function timestepsArray(layer: string, t: Timestep, n: number): Float32Array {
  let arr: ArrayLike<number>;
  if (typeof t === 'number') arr = new Array<number>(n).fill(t);
  else if (Array.isArray(t) || t instanceof Float32Array || t instanceof Float64Array) arr = t as ArrayLike<number>;
  else throw new ArgumentError(`${layer}: timesteps must be a number, an array of numbers or a Float32Array, found ${t === null ? 'null' : typeof t}`);
  if (arr.length === 1 && n !== 1) arr = new Array<number>(n).fill(arr[0]!);
  if (arr.length !== n) throw new ArgumentError(`${layer}: ${arr.length} timesteps for a batch of ${n}; give one per sample or a single number`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = arr[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${layer}: timestep ${i} is ${String(v)}, expected a finite number`);
    out[i] = v;
  }
  return out;
}

export interface TimestepEmbeddingOptions {
  flipSinToCos?: boolean;
  downscaleFreqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/**
 * diffusers' get_timestep_embedding in float32: (N) timesteps -> (N, dim) float32 values.
 * Each step is rounded to float32 where PyTorch computes in float32 (odd dim: a zero column is appended).
 * @example sinusoidalEmbedding(Float32Array.of(0, 500), 32, { flipSinToCos: true }) // (2, 32)
 */
export function sinusoidalEmbedding(t: Float32Array, dim: number, options: TimestepEmbeddingOptions = {}): Float32Array {
  const { flipSinToCos = false, downscaleFreqShift = 1, scale = 1, maxPeriod = 10000 } = options;
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  // exponent = -ln(maxPeriod) * arange(half) (float32) / (half - shift); freq = exp(exponent)
  const negLog = f(-Math.log(maxPeriod));
  const denom = f(half - downscaleFreqShift);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = f(Math.exp(f(f(negLog * i) / denom)));
  const n = t.length;
  const out = new Float32Array(n * dim); // (N, dim)
  const [first, second] = flipSinToCos ? [Math.cos, Math.sin] : [Math.sin, Math.cos];
  for (let r = 0; r < n; r++) {
    const tr = t[r]!;
    for (let i = 0; i < half; i++) {
      let a = f(tr * freqs[i]!);
      if (scale !== 1) a = f(a * f(scale));
      out[r * dim + i] = first(a);
      out[r * dim + half + i] = second(a);
    }
  }
  return out;
}

/**
 * diffusers' Timesteps module (no parameters): timesteps -> (N, numChannels) sinusoidal embedding.
 * @example new Timesteps(32, true, 0).forward([10, 500], 2) // (2, 32)
 */
export class Timesteps extends Module {
  readonly numChannels: number;
  readonly flipSinToCos: boolean;
  readonly downscaleFreqShift: number;

  constructor(numChannels: number, flipSinToCos: boolean, downscaleFreqShift: number) {
    super();
    this.numChannels = expectPosInt('Timesteps', 'numChannels', numChannels);
    this.flipSinToCos = flipSinToCos;
    if (typeof downscaleFreqShift !== 'number' || !Number.isFinite(downscaleFreqShift)) {
      throw new ArgumentError(`Timesteps: 'downscaleFreqShift' (freq_shift) must be a finite number, found ${String(downscaleFreqShift)}`);
    }
    this.downscaleFreqShift = downscaleFreqShift;
  }

  /** (N, numChannels) in float32 (cast to `dtype` afterwards, as diffusers' `t_emb.to(self.dtype)`). */
  forward(timesteps: Timestep, n: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
    const t = timestepsArray('Timesteps', timesteps, n);
    const emb = sinusoidalEmbedding(t, this.numChannels, { flipSinToCos: this.flipSinToCos, downscaleFreqShift: this.downscaleFreqShift });
    return tensor(emb, [n, this.numChannels], { dtype });
  }
}

/**
 * diffusers' TimestepEmbedding: linear_1 (in -> dim), SiLU, linear_2 (dim -> dim).
 * @example const emb = new TimestepEmbedding(32, 128).forward(tProj); // (N, 32) -> (N, 128)
 */
export class TimestepEmbedding extends Module {
  readonly linear_1: Linear;
  readonly linear_2: Linear;

  constructor(inChannels: number, timeEmbedDim: number, options: { gen?: Generator } = {}) {
    super();
    this.linear_1 = this.registerModule('linear_1', new Linear(inChannels, timeEmbedDim, options));
    this.linear_2 = this.registerModule('linear_2', new Linear(timeEmbedDim, timeEmbedDim, options));
  }

  /** (N, in) -> (N, dim). */
  forward(x: Tensor): Tensor {
    return this.linear_2.forward(silu(this.linear_1.forward(x)));
  }
}
