/**
 * The U-Net's blocks, as diffusers' unet_2d_blocks: DownBlock2D / AttnDownBlock2D (resnets, optional
 * attention after each, optional stride-2 downsampler; every intermediate is kept as a skip),
 * UNetMidBlock2D (resnet, [attention, resnet] per layer), and UpBlock2D / AttnUpBlock2D (each
 * resnet eats the newest skip concatenated along channels, optional attention, optional 2x upsampler).
 */
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import { Module, ModuleList } from './module.js';
import { Attention } from './attention.js';
import { Downsample2D, ResnetBlock2D, Upsample2D, type TimeEmbeddingNorm } from './resnet.js';

/** Settings every block shares (from the U-Net config). */
export interface BlockCommon {
  tembChannels: number | null;
  /** norm_num_groups. */
  resnetGroups: number;
  /** norm_eps. */
  resnetEps: number;
  dropout: number;
  resnetTimeScaleShift: TimeEmbeddingNorm;
  /** Output scale of resnets and attentions (diffusers' output_scale_factor; the mid block uses mid_block_scale_factor). */
  outputScaleFactor?: number;
  gen?: Generator;
}

/** The attention a block builds for `channels`: heads = channels / headDim (headDim = channels: one head). */
function makeAttention(channels: number, headDim: number, groups: number | null, c: BlockCommon): Attention {
  if (!Number.isInteger(headDim) || headDim < 1) throw new ArgumentError(`attention_head_dim must be an integer >= 1, found ${headDim}`);
  return new Attention(channels, {
    heads: Math.floor(channels / headDim),
    dimHead: headDim,
    normNumGroups: groups,
    eps: c.resnetEps,
    rescaleOutputFactor: c.outputScaleFactor ?? 1,
    residualConnection: true,
    bias: true,
    ...(c.gen ? { gen: c.gen } : {}),
  });
}

function makeResnet(cin: number, cout: number, c: BlockCommon): ResnetBlock2D {
  return new ResnetBlock2D({
    inChannels: cin,
    outChannels: cout,
    tembChannels: c.tembChannels,
    groups: c.resnetGroups,
    eps: c.resnetEps,
    dropout: c.dropout,
    timeEmbeddingNorm: c.resnetTimeScaleShift,
    outputScaleFactor: c.outputScaleFactor ?? 1,
    ...(c.gen ? { gen: c.gen } : {}),
  });
}

export interface DownBlockOptions extends BlockCommon {
  inChannels: number;
  outChannels: number;
  numLayers: number;
  addDownsample: boolean;
  /** downsample_padding (0 pads bottom/right only). */
  downsamplePadding: number;
  /** attention_head_dim for AttnDownBlock2D; ignored otherwise. */
  attentionHeadDim?: number;
}

/**
 * DownBlock2D (attention = false) and AttnDownBlock2D (attention = true). forward returns the
 * block's output and the skips it adds (one per resnet, plus the downsampled output).
 */
export class DownBlock2D extends Module {
  readonly attentions: ModuleList<Attention> | null;
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly downsamplers: ModuleList<Downsample2D> | null;

  constructor(o: DownBlockOptions, attention = false) {
    super();
    const resnets = Array.from({ length: o.numLayers }, (_, i) => makeResnet(i === 0 ? o.inChannels : o.outChannels, o.outChannels, o));
    // diffusers registers attentions before resnets (the parameter order follows).
    this.attentions = attention
      ? this.registerModule(
          'attentions',
          new ModuleList(Array.from({ length: o.numLayers }, () => makeAttention(o.outChannels, o.attentionHeadDim ?? o.outChannels, o.resnetGroups, o))),
        )
      : null;
    this.resnets = this.registerModule('resnets', new ModuleList(resnets));
    this.downsamplers = o.addDownsample
      ? this.registerModule('downsamplers', new ModuleList([new Downsample2D(o.outChannels, { padding: o.downsamplePadding, ...(o.gen ? { gen: o.gen } : {}) })]))
      : null;
  }

  forward(x: Tensor, temb: Tensor | null): { h: Tensor; skips: Tensor[] } {
    const skips: Tensor[] = [];
    let h = x;
    this.resnets.items.forEach((r, i) => {
      h = r.forward(h, temb);
      if (this.attentions !== null) h = this.attentions.at(i).forward(h);
      skips.push(h);
    });
    if (this.downsamplers !== null) {
      h = this.downsamplers.at(0).forward(h);
      skips.push(h);
    }
    return { h, skips };
  }
}

/** AttnDownBlock2D: a DownBlock2D with an Attention after every resnet. */
export class AttnDownBlock2D extends DownBlock2D {
  constructor(o: DownBlockOptions) {
    super(o, true);
  }
}

export interface MidBlockOptions extends BlockCommon {
  inChannels: number;
  /** Number of [attention, resnet] layers after the first resnet (default 1). */
  numLayers?: number;
  addAttention: boolean;
  attentionHeadDim: number;
  /** Attention GroupNorm groups (attn_norm_num_groups); null: resnetGroups for 'default', no norm for 'scale_shift' (as diffusers). */
  attnGroups: number | null;
}

/** UNetMidBlock2D: resnet, then per layer (attention, resnet). */
export class UNetMidBlock2D extends Module {
  readonly attentions: ModuleList<Attention> | null;
  readonly resnets: ModuleList<ResnetBlock2D>;

  constructor(o: MidBlockOptions) {
    super();
    const layers = o.numLayers ?? 1;
    const c = o.inChannels;
    // diffusers: attn_groups defaults to resnet_groups only for the 'default' time embedding.
    const attnGroups = o.attnGroups ?? (o.resnetTimeScaleShift === 'default' ? o.resnetGroups : null);
    // diffusers registers attentions before resnets (the parameter order follows).
    this.attentions = o.addAttention
      ? this.registerModule('attentions', new ModuleList(Array.from({ length: layers }, () => makeAttention(c, o.attentionHeadDim, attnGroups, o))))
      : null;
    this.resnets = this.registerModule('resnets', new ModuleList(Array.from({ length: layers + 1 }, () => makeResnet(c, c, o))));
  }

  forward(x: Tensor, temb: Tensor | null): Tensor {
    let h = this.resnets.at(0).forward(x, temb);
    for (let i = 1; i < this.resnets.length; i++) {
      if (this.attentions !== null) h = this.attentions.at(i - 1).forward(h);
      h = this.resnets.at(i).forward(h, temb);
    }
    return h;
  }
}

export interface UpBlockOptions extends BlockCommon {
  /** Channels of the skips from the matching down level (diffusers' in_channels). */
  inChannels: number;
  /** Channels of the previous up block's output (prev_output_channel). */
  prevOutputChannels: number;
  outChannels: number;
  numLayers: number;
  addUpsample: boolean;
  attentionHeadDim?: number;
}

/** UpBlock2D (attention = false) and AttnUpBlock2D (attention = true). */
export class UpBlock2D extends Module {
  readonly attentions: ModuleList<Attention> | null;
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(o: UpBlockOptions, attention = false) {
    super();
    const resnets = Array.from({ length: o.numLayers }, (_, i) => {
      const skip = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
      const rin = i === 0 ? o.prevOutputChannels : o.outChannels;
      return makeResnet(rin + skip, o.outChannels, o);
    });
    // diffusers registers attentions before resnets (the parameter order follows).
    this.attentions = attention
      ? this.registerModule(
          'attentions',
          new ModuleList(Array.from({ length: o.numLayers }, () => makeAttention(o.outChannels, o.attentionHeadDim ?? o.outChannels, o.resnetGroups, o))),
        )
      : null;
    this.resnets = this.registerModule('resnets', new ModuleList(resnets));
    this.upsamplers = o.addUpsample ? this.registerModule('upsamplers', new ModuleList([new Upsample2D(o.outChannels, o.gen ? { gen: o.gen } : {})])) : null;
  }

  /** Consumes skips from the end of `skips` (one per resnet, newest first). */
  forward(x: Tensor, skips: Tensor[], temb: Tensor | null): Tensor {
    let h = x;
    this.resnets.items.forEach((r, i) => {
      const skip = skips.pop();
      if (skip === undefined) throw new ArgumentError(`${this.constructor.name}: ran out of skip connections at resnet ${i}`);
      h = r.forward(concat([h, skip], -1), temb);
      if (this.attentions !== null) h = this.attentions.at(i).forward(h);
    });
    if (this.upsamplers !== null) h = this.upsamplers.at(0).forward(h);
    return h;
  }
}

/** AttnUpBlock2D: an UpBlock2D with an Attention after every resnet. */
export class AttnUpBlock2D extends UpBlock2D {
  constructor(o: UpBlockOptions) {
    super(o, true);
  }
}
