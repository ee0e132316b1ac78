/**
 * diffusers' ResnetBlock2D, Downsample2D and Upsample2D (the residual blocks of Ho et al. 2020's
 * U-Net, after Wide ResNets), NHWC:
 *   h = conv1(SiLU(norm1(x)))
 *   'default':     h = SiLU(norm2(h + time_emb_proj(SiLU(temb))))
 *   'scale_shift': [s, b] = time_emb_proj(SiLU(temb));  h = SiLU(norm2(h) * (1 + s) + b)
 *   y = (shortcut(x) + conv2(dropout(h))) / output_scale_factor,  shortcut = 1x1 conv when channels change.
 * Every norm -> SiLU pair runs as one fused groupNormSilu.
 */
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { add, mul } from '../ops/binary.js';
import { addScalar, divScalar } from '../ops/scalar.js';
import { reshape } from '../ops/shape.js';
import { split } from '../ops/concat.js';
import { silu } from '../ops/unary.js';
import { upsampleNearest2x } from '../ops/upsample.js';
import { Module } from './module.js';
import { Conv2d, Dropout, GroupNorm, Linear, expectNHWC, expectPosInt } from './layers.js';

/** How the time embedding enters a ResnetBlock2D (diffusers' resnet_time_scale_shift). */
export type TimeEmbeddingNorm = 'default' | 'scale_shift';

export interface ResnetBlock2DOptions {
  inChannels: number;
  /** Default: inChannels. */
  outChannels?: number;
  /** Width of the time embedding; null = no time embedding projection. */
  tembChannels: number | null;
  /** GroupNorm groups of norm1 (and of norm2 unless groupsOut is given). Default 32. */
  groups?: number;
  groupsOut?: number;
  /** GroupNorm eps (default 1e-6, diffusers' ResnetBlock2D default; the U-Net passes norm_eps). */
  eps?: number;
  /** Dropout probability before conv2 (default 0). */
  dropout?: number;
  timeEmbeddingNorm?: TimeEmbeddingNorm;
  /** The block's output is divided by this (default 1). */
  outputScaleFactor?: number;
  gen?: Generator;
}

/**
 * diffusers' ResnetBlock2D (pre-norm, SiLU, no up/down sampling).
 * @example const r = new ResnetBlock2D({ inChannels: 32, outChannels: 64, tembChannels: 128, groups: 8 }); r.forward(x, temb)
 */
export class ResnetBlock2D extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly timeEmbeddingNorm: TimeEmbeddingNorm;
  readonly outputScaleFactor: number;
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly time_emb_proj: Linear | null;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: Conv2d;
  readonly conv_shortcut: Conv2d | null;

  constructor(o: ResnetBlock2DOptions) {
    super();
    this.inChannels = expectPosInt('ResnetBlock2D', 'inChannels', o.inChannels);
    this.outChannels = expectPosInt('ResnetBlock2D', 'outChannels', o.outChannels ?? o.inChannels);
    const norm = o.timeEmbeddingNorm ?? 'default';
    if (norm !== 'default' && norm !== 'scale_shift') {
      throw new ArgumentError(`ResnetBlock2D: timeEmbeddingNorm (resnet_time_scale_shift) must be 'default' or 'scale_shift', found ${JSON.stringify(norm)}`);
    }
    this.timeEmbeddingNorm = norm;
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
    if (typeof this.outputScaleFactor !== 'number' || this.outputScaleFactor === 0 || !Number.isFinite(this.outputScaleFactor)) {
      throw new ArgumentError(`ResnetBlock2D: outputScaleFactor must be a finite non-zero number, found ${String(o.outputScaleFactor)}`);
    }
    const groups = o.groups ?? 32;
    const eps = o.eps ?? 1e-6;
    const g = o.gen ? { gen: o.gen } : {};
    const cin = this.inChannels;
    const cout = this.outChannels;
    // Registration order is diffusers' (and so the parameter order of optimizers and checkpoints).
    this.norm1 = this.registerModule('norm1', new GroupNorm(groups, cin, eps));
    this.conv1 = this.registerModule('conv1', new Conv2d(cin, cout, 3, { padding: 1, ...g }));
    this.time_emb_proj =
      o.tembChannels === null ? null : this.registerModule('time_emb_proj', new Linear(o.tembChannels, norm === 'scale_shift' ? 2 * cout : cout, g));
    this.norm2 = this.registerModule('norm2', new GroupNorm(o.groupsOut ?? groups, cout, eps));
    this.dropout = this.registerModule('dropout', new Dropout(o.dropout ?? 0));
    this.conv2 = this.registerModule('conv2', new Conv2d(cout, cout, 3, { padding: 1, ...g }));
    this.conv_shortcut = cin !== cout ? this.registerModule('conv_shortcut', new Conv2d(cin, cout, 1, g)) : null;
  }

  /** x (N, H, W, Cin), temb (N, tembChannels) or null -> (N, H, W, Cout). */
  forward(x: Tensor, temb: Tensor | null): Tensor {
    expectNHWC('ResnetBlock2D', x, this.inChannels);
    const n = x.shape[0]!;
    const cout = this.outChannels;
    let h = this.conv1.forward(this.norm1.forwardSilu(x)); // (N, H, W, Cout)
    // (N, 1, 1, Cout or 2 Cout): broadcast over the pixels.
    const t = this.time_emb_proj !== null && temb !== null ? this.time_emb_proj.forward(silu(temb)) : null;
    if (this.timeEmbeddingNorm === 'default') {
      // A fused "add per-sample bias + GroupNorm + SiLU" kernel would save one pass over h here.
      if (t !== null) h = add(h, reshape(t, [n, 1, 1, cout]));
      h = this.norm2.forwardSilu(h);
    } else {
      h = this.norm2.forward(h);
      if (t !== null) {
        // Equivalent to a GroupNorm with per-sample gamma' = gamma (1 + s), beta' = beta (1 + s) + b:
        // a kernel taking per-sample affine parameters would fuse these three passes.
        const [scale, shift] = split(t, [cout, cout], -1) as [Tensor, Tensor];
        h = add(mul(h, reshape(addScalar(scale, 1), [n, 1, 1, cout])), reshape(shift, [n, 1, 1, cout]));
      }
      h = silu(h);
    }
    h = this.conv2.forward(this.dropout.forward(h));
    const skip = this.conv_shortcut !== null ? this.conv_shortcut.forward(x) : x;
    const y = add(skip, h);
    return this.outputScaleFactor === 1 ? y : divScalar(y, this.outputScaleFactor);
  }
}

/**
 * diffusers' Downsample2D with use_conv: a 3x3 stride-2 conv `conv`. padding 0 pads (0, 1, 0, 1)
 * (bottom and right only) as diffusers' F.pad does for the DDPM checkpoints; otherwise symmetric.
 * @example new Downsample2D(64, { padding: 1 }).forward(x) // (N, 14, 14, 64) -> (N, 7, 7, 64)
 */
export class Downsample2D extends Module {
  readonly channels: number;
  readonly padding: number;
  readonly conv: Conv2d;

  constructor(channels: number, options: { padding?: number; outChannels?: number; gen?: Generator } = {}) {
    super();
    this.channels = expectPosInt('Downsample2D', 'channels', channels);
    const padding = options.padding ?? 1;
    if (!Number.isInteger(padding) || padding < 0) {
      throw new ArgumentError(`Downsample2D: padding (downsample_padding) must be an integer >= 0, found ${String(padding)}`);
    }
    this.padding = padding;
    const pad: [number, number, number, number] = padding === 0 ? [0, 1, 0, 1] : [padding, padding, padding, padding];
    this.conv = this.registerModule('conv', new Conv2d(channels, options.outChannels ?? channels, 3, { stride: 2, padding: pad, ...(options.gen ? { gen: options.gen } : {}) }));
  }

  forward(x: Tensor): Tensor {
    expectNHWC('Downsample2D', x, this.channels);
    return this.conv.forward(x);
  }
}

/**
 * diffusers' Upsample2D with use_conv: nearest-neighbour 2x, then a 3x3 conv `conv`.
 * @example new Upsample2D(64).forward(x) // (N, 7, 7, 64) -> (N, 14, 14, 64)
 */
export class Upsample2D extends Module {
  readonly channels: number;
  readonly conv: Conv2d;

  constructor(channels: number, options: { outChannels?: number; gen?: Generator } = {}) {
    super();
    this.channels = expectPosInt('Upsample2D', 'channels', channels);
    this.conv = this.registerModule('conv', new Conv2d(channels, options.outChannels ?? channels, 3, { padding: 1, ...(options.gen ? { gen: options.gen } : {}) }));
  }

  forward(x: Tensor): Tensor {
    expectNHWC('Upsample2D', x, this.channels);
    // A fused "nearest 2x + conv" (a conv on the small image with a 2x2-phase kernel) would avoid
    // materialising the 4x larger upsampled tensor.
    return this.conv.forward(upsampleNearest2x(x));
  }
}
