/**
 * U-Net presets for `diffuse train --data DIR` without a --config: a diffusers UNet2DModel config
 * built from the data (size, channels, classes) and a width (tiny, small, base), so a user's folder
 * trains with one command. The width is the preset; the depth follows the image size: the U-Net
 * halves the image until the next halving would go below 6 pixels (28 -> 14 -> 7; 32 -> 16 -> 8;
 * 64 -> ... -> 8), with self-attention at the lowest resolution (and at 16x16 for base, as DDPM's
 * CIFAR-10 model has). tiny at 28x28x1 with 10 classes is exactly configs/unet_reference.json.
 *
 *   tiny   32/64/64...    channels, 8 groups, heads of 8:  1.62M parameters at 32x32x3, 2.25M at 64x64x3
 *   small  64/128/128...  channels, 32 groups, heads of 32: 6.47M, 8.95M
 *   base   128/256/256... channels, 32 groups, heads of 64 (DDPM's CIFAR-10 widths): 27.2M, 37.1M
 */
import { ArgumentError } from '../tensor/errors.js';

/** The preset names. */
export type UNetPreset = 'tiny' | 'small' | 'base';
export const UNET_PRESETS: readonly UNetPreset[] = ['tiny', 'small', 'base'];

interface PresetWidths {
  /** Channels of the first level; the later levels have twice that. */
  base: number;
  normGroups: number;
  headDim: number;
  /** Attention also at this resolution and below (besides the lowest). */
  attentionAtOrBelow: number;
}

const WIDTHS: Readonly<Record<UNetPreset, PresetWidths>> = {
  tiny: { base: 32, normGroups: 8, headDim: 8, attentionAtOrBelow: 0 },
  small: { base: 64, normGroups: 32, headDim: 32, attentionAtOrBelow: 0 },
  base: { base: 128, normGroups: 32, headDim: 64, attentionAtOrBelow: 16 },
};

/** The preset a size gets without --preset: tiny up to 32 pixels, small up to 64, base above. */
export function defaultPreset(imageSize: number): UNetPreset {
  return imageSize <= 32 ? 'tiny' : imageSize <= 64 ? 'small' : 'base';
}

/** The smallest image side the presets build for (one level of 8x8 or less is the bottom already). */
export const MIN_PRESET_SIZE = 8;
/** The lowest resolution a halving may reach. */
const MIN_LOWEST = 6;

/** The resolutions of the U-Net's levels for a square image of side `size`: halve while even and the half is >= 6. */
export function presetResolutions(size: number): number[] {
  const res = [size];
  for (let s = size; s % 2 === 0 && s / 2 >= MIN_LOWEST; s /= 2) res.push(s / 2);
  return res;
}

/** What a preset config is built from. */
export interface PresetSpec {
  preset: UNetPreset;
  /** Height = width of the images. */
  imageSize: number;
  /** The model's input and output channels (the objective's: SR3 doubles the input, learned variances the output). */
  inChannels: number;
  outChannels: number;
  /** Number of classes (the config gets one more: the null class for guidance), or null for an unconditional model. */
  numClasses: number | null;
}

/**
 * A diffusers UNet2DModel config.json object (snake_case) for `spec`.
 * @example presetUNetConfig({ preset: 'tiny', imageSize: 32, inChannels: 3, outChannels: 3, numClasses: 3 }).block_out_channels // [32, 64, 64]
 */
export function presetUNetConfig(spec: PresetSpec): Record<string, unknown> {
  const w = WIDTHS[spec.preset];
  if (w === undefined) throw new ArgumentError(`unet preset: unknown preset ${JSON.stringify(spec.preset)}; expected one of ${UNET_PRESETS.join(', ')}`);
  if (!Number.isInteger(spec.imageSize) || spec.imageSize < MIN_PRESET_SIZE) {
    throw new ArgumentError(`unet preset: the image size must be an integer >= ${MIN_PRESET_SIZE}, found ${String(spec.imageSize)}; pass --image-size (e.g. 32 or 64)`);
  }
  const res = presetResolutions(spec.imageSize);
  const lowest = res[res.length - 1]!;
  const attn = res.map((r) => r === lowest || r <= w.attentionAtOrBelow);
  const channels = res.map((_, i) => (i === 0 ? w.base : 2 * w.base));
  return {
    _class_name: 'UNet2DModel',
    sample_size: spec.imageSize,
    in_channels: spec.inChannels,
    out_channels: spec.outChannels,
    center_input_sample: false,
    time_embedding_type: 'positional',
    freq_shift: 0,
    flip_sin_to_cos: true,
    down_block_types: attn.map((a) => (a ? 'AttnDownBlock2D' : 'DownBlock2D')),
    up_block_types: [...attn].reverse().map((a) => (a ? 'AttnUpBlock2D' : 'UpBlock2D')),
    block_out_channels: channels,
    layers_per_block: 2,
    mid_block_scale_factor: 1,
    downsample_padding: 1,
    downsample_type: 'conv',
    upsample_type: 'conv',
    dropout: 0,
    act_fn: 'silu',
    attention_head_dim: w.headDim,
    norm_num_groups: w.normGroups,
    attn_norm_num_groups: null,
    norm_eps: 1e-5,
    resnet_time_scale_shift: 'default',
    add_attention: true,
    class_embed_type: null,
    num_class_embeds: spec.numClasses === null ? null : spec.numClasses + 1,
    num_train_timesteps: null,
  };
}

/** One line describing a config built here, for the training log. */
export function describePreset(spec: PresetSpec): string {
  const res = presetResolutions(spec.imageSize);
  const cfg = presetUNetConfig(spec);
  const ch = (cfg['block_out_channels'] as number[]).join('/');
  const attn = res.filter((r, i) => (cfg['down_block_types'] as string[])[i] === 'AttnDownBlock2D').map((r) => `${r}x${r}`);
  return `U-Net preset ${spec.preset}: ${ch} channels at ${res.map((r) => `${r}x${r}`).join(', ')}, attention at ${attn.join(' and ')}`;
}
