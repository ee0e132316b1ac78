/**
 * diffusers' Attention as the U-Net's attention blocks use it (AttnProcessor, `_from_deprecated_attn_block`):
 * spatial self-attention over the H*W positions of an NHWC feature map with a residual:
 *   h = GroupNorm(x) (optional);  q, k, v = h Wq^T + bq, h Wk^T + bk, h Wv^T + bv   (N, HW, heads*Dh)
 *   o = softmax(q k^T / sqrt(Dh)) v per head;  y = (o Wout^T + bout + x) / rescale_output_factor
 * Parameter names: group_norm, to_q, to_k, to_v, to_out.0 (legacy checkpoints' query, key, value,
 * proj_attn are renamed in io/checkpoint.ts).
 */
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { reshape } from '../ops/shape.js';
import { add } from '../ops/binary.js';
import { divScalar } from '../ops/scalar.js';
import { multiHeadAttention } from '../ops/attention.js';
import { Module, ModuleList } from './module.js';
import { GroupNorm, Linear, expectPosInt } from './layers.js';

export interface AttentionOptions {
  /** Number of heads (default 1). */
  heads?: number;
  /** Channels per head (default queryDim / heads). */
  dimHead?: number;
  /** Groups of the input GroupNorm; null = no norm (default null). */
  normNumGroups?: number | null;
  /** GroupNorm eps (default 1e-5). */
  eps?: number;
  /** The output is divided by this (default 1). */
  rescaleOutputFactor?: number;
  /** Add the input to the output (default true). */
  residualConnection?: boolean;
  /** Biases on the q/k/v projections (default true). */
  bias?: boolean;
  gen?: Generator;
}

/**
 * Multi-head spatial self-attention with diffusers' names and math.
 * @example const attn = new Attention(64, { heads: 8, dimHead: 8, normNumGroups: 8 }); attn.forward(x) // (N, 7, 7, 64)
 */
export class Attention extends Module {
  readonly queryDim: number;
  readonly heads: number;
  readonly dimHead: number;
  readonly innerDim: number;
  readonly scale: number;
  readonly rescaleOutputFactor: number;
  readonly residualConnection: boolean;
  readonly group_norm: GroupNorm | null;
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  readonly to_out: ModuleList<Linear>;

  constructor(queryDim: number, options: AttentionOptions = {}) {
    super();
    this.queryDim = expectPosInt('Attention', 'queryDim', queryDim);
    this.heads = expectPosInt('Attention', 'heads', options.heads ?? 1);
    this.dimHead = expectPosInt('Attention', 'dimHead', options.dimHead ?? Math.floor(queryDim / this.heads));
    this.innerDim = this.heads * this.dimHead;
    this.scale = 1 / Math.sqrt(this.dimHead);
    this.rescaleOutputFactor = options.rescaleOutputFactor ?? 1;
    if (typeof this.rescaleOutputFactor !== 'number' || !(this.rescaleOutputFactor !== 0 && Number.isFinite(this.rescaleOutputFactor))) {
      throw new ArgumentError(`Attention: 'rescaleOutputFactor' must be a finite non-zero number, found ${String(this.rescaleOutputFactor)}`);
    }
    this.residualConnection = options.residualConnection ?? true;
    const groups = options.normNumGroups ?? null;
    const lin = { bias: options.bias ?? true, ...(options.gen ? { gen: options.gen } : {}) };
    this.group_norm = groups === null ? null : this.registerModule('group_norm', new GroupNorm(groups, queryDim, options.eps ?? 1e-5));
    this.to_q = this.registerModule('to_q', new Linear(queryDim, this.innerDim, lin));
    this.to_k = this.registerModule('to_k', new Linear(queryDim, this.innerDim, lin));
    this.to_v = this.registerModule('to_v', new Linear(queryDim, this.innerDim, lin));
    // to_out is [Linear, Dropout(0)] in diffusers; the dropout has no parameters and p = 0.
    this.to_out = this.registerModule('to_out', new ModuleList([new Linear(this.innerDim, queryDim, options.gen ? { gen: options.gen } : {})]));
  }

  /** x (N, H, W, C) or (N, L, C) -> the same shape. */
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor) || (x.rank !== 4 && x.rank !== 3) || x.shape[x.rank - 1] !== this.queryDim) {
      const found = x instanceof Tensor ? fmtShape(x.shape) : typeof x;
      throw new ShapeError(`Attention: input has shape ${found}, expected (N, H, W, ${this.queryDim}) or (N, L, ${this.queryDim})`);
    }
    const n = x.shape[0]!;
    const c = this.queryDim;
    const l = x.size / Math.max(1, n * c);
    // NHWC makes the (N, HW, C) token view free: no transpose as in diffusers' NCHW.
    let h = reshape(x, [n, l, c]);
    if (this.group_norm !== null) h = this.group_norm.forward(h);
    // Heads stay interleaved in the channels: the fused op needs no split or merge copies.
    const q = this.to_q.forward(h); // (N, L, heads*Dh)
    const k = this.to_k.forward(h);
    const v = this.to_v.forward(h);
    const o = multiHeadAttention(q, k, v, { heads: this.heads, scale: this.scale }); // (N, L, inner)
    let y = reshape(this.to_out.at(0).forward(o), x.shape);
    if (this.residualConnection) y = add(y, x);
    if (this.rescaleOutputFactor !== 1) y = divScalar(y, this.rescaleOutputFactor);
    return y;
  }
}
