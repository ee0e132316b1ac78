/**
 * What the image-editing pipelines (img2img.ts: SDEdit; inpaint.ts: replace-known-region and
 * RePaint) share beyond the engine's common options (src/sampling/common_options.ts): their
 * defaults, and the checks of input images and masks, made before any work.
 */
import { Tensor } from '../tensor/tensor.js';
import { DEFAULT_MASK_CONVENTION, keeps, maskMeaning, type MaskConvention } from '../diffusion/mask_convention.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { reshape } from '../ops/shape.js';
import { concat } from '../ops/concat.js';
import { sliceBatch } from '../ops/slice.js';
import type { UNet2DModel } from '../nn/unet_2d.js';
import type { SamplingOptions } from '../sampling/common_options.js';

export { checkConditioning, checkModel, type Conditioning } from '../sampling/common_options.js';
export type { ProgressCallback } from '../sampling/progress.js';


/**
 * The options every editing pipeline takes: the engine's common options (model, scheduler
 * (default 'ddim'), steps (default 50), classes, guidance, eta, seed or generator, batch size,
 * onProgress, signal).
 */
export type EditOptions = SamplingOptions;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** The image size a model takes: its sample_size, or null when the config has none. */
export function modelImageSize(model: UNet2DModel): [number, number] | null {
  const s = model.config.sampleSize;
  if (s === null) return null;
  return typeof s === 'number' ? [s, s] : [s[0], s[1]];
}

/**
 * Checks input images for `model`: (H, W, C) or (N, H, W, C), C = the model's in_channels, H x W =
 * its sample_size (when set; else divisible by the U-Net's downsampling factor), finite values in
 * [-1, 1]. Returns the batch (N, H, W, C), sharing the data.
 * @example const x = checkImages('img2img', 'image', await readPng('in.png'), model);
 */
export function checkImages(op: string, name: string, image: unknown, model: UNet2DModel): Tensor {
  if (!(image instanceof Tensor)) throw new ArgumentError(`${op}: '${name}' must be a Tensor (H, W, C) or (N, H, W, C) in [-1, 1] (readPng(path) gives one), found ${describe(image)}`);
  if (image.rank !== 3 && image.rank !== 4) throw new ShapeError(`${op}: '${name}' has shape ${fmtShape(image.shape)}, expected (H, W, C) or (N, H, W, C)`);
  const x = image.rank === 3 ? reshape(image, [1, ...image.shape]) : image;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cfg = model.config;
  if (n < 1 || h < 1 || w < 1) throw new ShapeError(`${op}: '${name}' has shape ${fmtShape(image.shape)}, expected at least one image of at least 1x1 pixels`);
  if (c !== cfg.inChannels) {
    const kind = (ch: number): string => (ch === 1 ? ' (grayscale)' : ch === 3 ? ' (RGB)' : '');
    throw new ShapeError(`${op}: '${name}' has ${c} channel${c === 1 ? '' : 's'}${kind(c)} (shape ${fmtShape(image.shape)}), but the model takes ${cfg.inChannels}${kind(cfg.inChannels)} (in_channels); convert the image first`);
  }
  const size = modelImageSize(model);
  if (size !== null && (size[0] !== h || size[1] !== w)) {
    throw new ShapeError(`${op}: '${name}' is ${h}x${w} pixels, but the model takes ${size[0]}x${size[1]} (its sample_size); resize or crop the image to ${size[0]}x${size[1]}`);
  }
  const factor = 2 ** (cfg.blockOutChannels.length - 1);
  if (h % factor !== 0 || w % factor !== 0) throw new ShapeError(`${op}: '${name}' is ${h}x${w} pixels, not divisible by ${factor} (the U-Net halves it ${cfg.blockOutChannels.length - 1} times)`);
  const d = x.toArray(); // one host read, to name the first bad pixel
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (!(v >= -1 && v <= 1)) {
      const p = Math.floor(i / c);
      throw new ArgumentError(`${op}: '${name}' has value ${v} at image ${Math.floor(p / (h * w))}, pixel (y ${Math.floor(p / w) % h}, x ${p % w}), channel ${i % c}; pixel values must be finite and in [-1, 1]`);
    }
  }
  return x;
}

/**
 * Checks an inpainting mask for images (N, H, W, C) and expands it to one byte per value of the
 * images, 1 where the pixel is kept (known) and 0 where it is generated. The mask's own values
 * read by `convention` (mask_convention.ts: 'repaint', the default, is diffusers' 1 = repaint).
 * Accepted shapes: (H, W), (H, W, 1 | C), (1 | N, H, W, 1 | C); values exactly 0 or 1 (a
 * 1-channel mask applies to every channel).
 * @example const keep = checkMask('inpaint', mask, x.shape); // keep[i] = 1 - mask value
 */
export function checkMask(op: string, mask: unknown, shape: readonly number[], convention: MaskConvention = DEFAULT_MASK_CONVENTION): Uint8Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  if (!(mask instanceof Tensor)) throw new ArgumentError(`${op}: 'mask' must be a Tensor (H, W), (H, W, 1) or (N, H, W, 1) of 0 and 1 (${maskMeaning(convention)}), found ${describe(mask)}`);
  const s = mask.shape;
  let mn = 1;
  let mh: number;
  let mw: number;
  let mc = 1;
  if (s.length === 2) [mh, mw] = s as [number, number];
  else if (s.length === 3) [mh, mw, mc] = s as [number, number, number];
  else if (s.length === 4) [mn, mh, mw, mc] = s as [number, number, number, number];
  else throw new ShapeError(`${op}: 'mask' has shape ${fmtShape(s)}, expected (H, W), (H, W, 1) or (N, H, W, 1)`);
  if (mh !== h || mw !== w) throw new ShapeError(`${op}: 'mask' is ${mh}x${mw} pixels (shape ${fmtShape(s)}) but the image is ${h}x${w}; the mask must match the image's size`);
  if (mn !== 1 && mn !== n) throw new ShapeError(`${op}: 'mask' holds ${mn} masks (shape ${fmtShape(s)}) for ${n} images; give one mask for all or one per image`);
  if (mc !== 1 && mc !== c) throw new ShapeError(`${op}: 'mask' has ${mc} channels (shape ${fmtShape(s)}), expected 1 or the image's ${c}`);
  const md = mask.toArray(); // one host read: the mask is checked and expanded once
  for (let i = 0; i < md.length; i++) {
    if (md[i] !== 0 && md[i] !== 1) {
      const p = Math.floor(i / mc);
      throw new ArgumentError(`${op}: 'mask' has value ${md[i]} at pixel (y ${Math.floor(p / mw) % mh}, x ${p % mw}); mask values must be 0 or 1 (${maskMeaning(convention)}). Threshold a soft mask first`);
    }
  }
  const keep = new Uint8Array(n * h * w * c); // (N, H, W, C)
  for (let b = 0; b < n; b++) {
    const mb = mn === 1 ? 0 : b;
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < c; ch++) keep[(b * h * w + p) * c + ch] = keeps(md[(mb * h * w + p) * mc + (mc === 1 ? 0 : ch)]!, convention) ? 1 : 0;
    }
  }
  return keep;
}

/**
 * The n images of a pipeline from a batch of N: the batch itself (N = n), or its single image
 * repeated n times (N = 1), in `dtype`.
 */
export function repeatImages(batch: Tensor, n: number, dtype: 'float32' | 'float64'): Tensor {
  const x = batch.dtype === dtype ? batch : new Tensor(dtype === 'float64' ? Float64Array.from(batch.toArray()) : batch.toArray(), batch.shape);
  if (x.shape[0] === n) return x;
  const one = sliceBatch(x, 0, 1);
  return n === 1 ? one : concat(new Array<Tensor>(n).fill(one), 0);
}
