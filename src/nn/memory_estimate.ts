/**
 * How much memory a UNet2DModel needs, from its config alone (nothing is allocated): the exact
 * parameter count (the layers unet_2d.ts builds, counted in closed form), and an estimate of the
 * activations of a batch, for inference (what a forward pass holds at its peak: the skips plus
 * one layer's working tensors, twice over for what the garbage collector has yet to free) or
 * training (what autograd keeps for the backward pass: every layer's outputs and the attention
 * probabilities).
 * Float32 throughout: 4 bytes per value.
 */
import type { UNet2DConfig } from './unet_2d.js';
import type { NoisyClassifierConfig } from './noisy_classifier.js';
import { formatBytes, type MemoryNeed } from './memory_budget.js';

/** Bytes per float32 value. */
const F32 = 4;
/**
 * Copies of the parameters that training holds: the weights, their gradients, AdamW's two moments
 * and the EMA shadow.
 */
export const TRAINING_PARAMETER_COPIES = 5;

/** Maps a resnet keeps for backward: its input through norm1, SiLU, conv1, +temb, norm2, SiLU, dropout, conv2, the sum. */
const RESNET_SAVED_MAPS = 9;
/** Maps an attention keeps for backward: norm, q, k, v, the heads' output, to_out, the residual sum. */
const ATTENTION_SAVED_MAPS = 7;
/** Working maps of one layer in a forward pass without autograd (input, norm, conv outputs, sum). */
const INFERENCE_WORK_MAPS = 5;
/**
 * Tensors of a forward pass are freed when the garbage collector runs, not at once: about twice
 * the live set is resident at the peak. Calibrated, like the map counts above, on the peak RSS of
 * the reference U-Net (test/nn/memory_estimate.test.ts): the estimates land within a factor 1.5
 * of the measured training step and forward pass (the saved-map counts are generous enough to
 * cover the gradients' working maps of the backward pass).
 */
const INFERENCE_RESIDENT_FACTOR = 2;

const conv = (cin: number, cout: number, k: number): number => cin * cout * k * k + cout;
const linear = (i: number, o: number): number => i * o + o;
const norm = (c: number): number => 2 * c;

function resnetParams(cin: number, cout: number, temb: number, c: UNet2DConfig): number {
  return norm(cin) + conv(cin, cout, 3) + linear(temb, c.resnetTimeScaleShift === 'scale_shift' ? 2 * cout : cout) + norm(cout) + conv(cout, cout, 3) + (cin !== cout ? conv(cin, cout, 1) : 0);
}

function attentionParams(ch: number, headDim: number, hasNorm: boolean): number {
  const inner = Math.floor(ch / headDim) * headDim;
  return (hasNorm ? norm(ch) : 0) + 3 * linear(ch, inner) + linear(inner, ch);
}

/**
 * The number of parameters of a NoisyClassifier (the U-Net's encoder, its middle block, a norm and
 * a linear head), exactly as NoisyClassifier builds them, without building it.
 */
export function classifierParameterCount(c: NoisyClassifierConfig): number {
  const shim = { resnetTimeScaleShift: 'default' } as UNet2DConfig;
  const boc = c.blockOutChannels;
  const c0 = boc[0]!;
  const temb = 4 * c0;
  let n = conv(c.inChannels, c0, 3) + linear(c0, temb) + linear(temb, temb);
  let out = c0;
  c.downBlockTypes.forEach((type, i) => {
    const inCh = out;
    out = boc[i]!;
    for (let l = 0; l < c.layersPerBlock; l++) {
      n += resnetParams(l === 0 ? inCh : out, out, temb, shim);
      if (type === 'AttnDownBlock2D') n += attentionParams(out, Math.min(c.attentionHeadDim, out), true);
    }
    if (i !== boc.length - 1) n += conv(out, out, 3);
  });
  n += 2 * resnetParams(out, out, temb, shim);
  if (c.addAttention) n += attentionParams(out, Math.min(c.attentionHeadDim, out), true);
  return n + norm(out) + linear(out, c.numClasses);
}

/**
 * The number of parameters of a UNet2DModel with this (resolved) config, exactly as the model
 * would have them, without building it.
 * @example unetParameterCount(resolveConfig(readJSON('configs/unet_reference.json')))
 */
export function unetParameterCount(c: UNet2DConfig): number {
  const boc = c.blockOutChannels;
  const levels = boc.length;
  const c0 = boc[0]!;
  const temb = 4 * c0;
  let n = conv(c.inChannels, c0, 3) + linear(c0, temb) + linear(temb, temb);
  if (c.classEmbedType === 'timestep') n += linear(c0, temb) + linear(temb, temb);
  else if (c.numClassEmbeds !== null) n += c.numClassEmbeds * temb;
  let out = c0;
  c.downBlockTypes.forEach((type, i) => {
    const inCh = out;
    out = boc[i]!;
    for (let l = 0; l < c.layersPerBlock; l++) {
      n += resnetParams(l === 0 ? inCh : out, out, temb, c);
      if (type === 'AttnDownBlock2D') n += attentionParams(out, c.attentionHeadDim ?? out, true);
    }
    if (i !== levels - 1) n += conv(out, out, 3);
  });
  const top = boc[levels - 1]!;
  n += 2 * resnetParams(top, top, temb, c);
  const midNorm = c.attnNormNumGroups !== null || c.resnetTimeScaleShift === 'default';
  if (c.addAttention) n += attentionParams(top, c.attentionHeadDim ?? top, midNorm);
  const rev = [...boc].reverse();
  out = rev[0]!;
  c.upBlockTypes.forEach((type, i) => {
    const prev = out;
    out = rev[i]!;
    const skipIn = rev[Math.min(i + 1, levels - 1)]!;
    const layers = c.layersPerBlock + 1;
    for (let l = 0; l < layers; l++) {
      const skip = l === layers - 1 ? skipIn : out;
      const rin = l === 0 ? prev : out;
      n += resnetParams(rin + skip, out, temb, c);
      if (type === 'AttnUpBlock2D') n += attentionParams(out, c.attentionHeadDim ?? out, true);
    }
    if (i !== levels - 1) n += conv(out, out, 3);
  });
  n += norm(c0) + conv(c0, c.outChannels, 3);
  return n;
}

/** What the activations are estimated for. */
export interface ActivationShape {
  /** Images per forward pass (with classifier-free guidance: both halves). */
  batch: number;
  height: number;
  width: number;
  /** 'training' keeps every layer's output for backward; 'inference' holds the skips and one layer's work. */
  mode: 'inference' | 'training';
}

/**
 * An estimate of the activation memory (bytes) of one forward pass (and, for training, its
 * backward pass) of a batch: the skips the U-Net keeps, each layer's maps, and each attention's
 * probabilities (batch x heads x L x L for L = h x w tokens, the part that grows fastest with
 * the image size).
 */
export function unetActivationBytes(c: UNet2DConfig, s: ActivationShape): number {
  const { batch, height, width } = s;
  const boc = c.blockOutChannels;
  const levels = boc.length;
  const training = s.mode === 'training';
  let saved = 0; // kept for backward (training)
  let skips = 0; // kept until the up blocks consume them
  let peakWork = 0; // one layer's working tensors (inference)
  const map = (ch: number, level: number): number => batch * Math.ceil(height / 2 ** level) * Math.ceil(width / 2 ** level) * ch * F32;
  const probs = (ch: number, level: number): number => {
    const heads = Math.max(1, Math.floor(ch / (c.attentionHeadDim ?? ch)));
    const l = Math.ceil(height / 2 ** level) * Math.ceil(width / 2 ** level);
    return batch * heads * l * l * F32;
  };
  const resnet = (cin: number, cout: number, level: number): void => {
    saved += map(cin, level) * 3 + map(cout, level) * (RESNET_SAVED_MAPS - 3);
    peakWork = Math.max(peakWork, map(cin, level) + map(cout, level) * (INFERENCE_WORK_MAPS - 1));
  };
  const attention = (ch: number, level: number): void => {
    saved += map(ch, level) * ATTENTION_SAVED_MAPS + probs(ch, level);
    peakWork = Math.max(peakWork, map(ch, level) * INFERENCE_WORK_MAPS + probs(ch, level));
  };
  skips += map(boc[0]!, 0);
  saved += map(c.inChannels, 0) + map(boc[0]!, 0);
  let out = boc[0]!;
  c.downBlockTypes.forEach((type, i) => {
    const inCh = out;
    out = boc[i]!;
    for (let l = 0; l < c.layersPerBlock; l++) {
      resnet(l === 0 ? inCh : out, out, i);
      if (type === 'AttnDownBlock2D') attention(out, i);
      skips += map(out, i);
    }
    if (i !== levels - 1) {
      saved += map(out, i + 1);
      skips += map(out, i + 1);
    }
  });
  const deepest = levels - 1;
  const top = boc[deepest]!;
  resnet(top, top, deepest);
  if (c.addAttention) attention(top, deepest);
  resnet(top, top, deepest);
  const rev = [...boc].reverse();
  out = rev[0]!;
  c.upBlockTypes.forEach((type, i) => {
    const prev = out;
    out = rev[i]!;
    const level = levels - 1 - i;
    const skipIn = rev[Math.min(i + 1, levels - 1)]!;
    const layers = c.layersPerBlock + 1;
    for (let l = 0; l < layers; l++) {
      const cin = (l === 0 ? prev : out) + (l === layers - 1 ? skipIn : out);
      saved += map(cin, level); // the concatenation
      resnet(cin, out, level);
      if (type === 'AttnUpBlock2D') attention(out, level);
    }
    if (i !== levels - 1) saved += map(out, level - 1);
  });
  saved += map(boc[0]!, 0) * 2 + map(c.outChannels, 0);
  return training ? saved : INFERENCE_RESIDENT_FACTOR * (skips + peakWork);
}

/** Millions of parameters, for messages. */
const millions = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`);

/**
 * The memory a U-Net needs: parameters (x TRAINING_PARAMETER_COPIES for training) plus, with a
 * batch shape, its activations; as a MemoryNeed for checkMemoryBudget.
 * @example checkMemoryBudget(unetMemoryNeed('train', config, { batch: 128, height: 28, width: 28, mode: 'training' }, 'use a smaller --batch'));
 */
export function unetMemoryNeed(what: string, c: UNet2DConfig, shape: ActivationShape | null, fix: string): MemoryNeed {
  const params = unetParameterCount(c);
  const copies = shape?.mode === 'training' ? TRAINING_PARAMETER_COPIES : 1;
  const paramBytes = params * F32 * copies;
  const parts = [`${millions(params)} parameters x 4 bytes${copies > 1 ? ` x ${copies} (weights, gradients, 2 AdamW moments, EMA)` : ''} = ${formatBytes(paramBytes)}`];
  let bytes = paramBytes;
  if (shape !== null) {
    const act = unetActivationBytes(c, shape);
    bytes += act;
    parts.push(`${shape.mode} activations of a batch of ${shape.batch} at ${shape.height}x${shape.width} = ${formatBytes(act)}`);
  }
  return { what, bytes, parts, fix };
}
