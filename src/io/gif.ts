/**
 * Animated GIF output through sharp (libvips + cgif): frames (F, H, W, C) in [-1, 1], grayscale
 * or RGB, become one looping GIF89a. libvips quantises to a 256-colour palette (libimagequant,
 * fastest effort, no dithering): grey levels come back within one of 255, RGB within the palette's
 * reach. Every frame is written, duplicates included, so frame i of the file is frame i of the tensor.
 */
import sharp from 'sharp';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { signedToUint } from '../data/transforms.js';
import { writeFileAtomic } from './atomic.js';

/** Options of a GIF write. */
export interface GifOptions {
  /** Milliseconds each frame shows: one number for all, or one per frame (default 100). GIF stores 10 ms units. */
  delayMs?: number | readonly number[];
  /** How many times the animation plays: 0 (default) loops forever. */
  loop?: number;
}

/** The largest GIF side: the format stores sizes as 16-bit integers. */
const GIF_MAX_SIDE = 65535;

function checkFrames(op: string, frames: unknown): asserts frames is Tensor {
  if (!(frames instanceof Tensor)) throw new ArgumentError(`${op}: input 'frames' must be a Tensor (F, H, W, C), found ${frames === null ? 'null' : typeof frames}`);
  const s = frames.shape;
  if (s.length !== 4) throw new ShapeError(`${op}: input 'frames' has shape ${fmtShape(s)}, expected rank 4 (F, H, W, C)`);
  const [f, h, w, c] = s as [number, number, number, number];
  if (f < 1 || h < 1 || w < 1) throw new ShapeError(`${op}: input 'frames' has shape ${fmtShape(s)}, expected at least one frame of at least 1x1 pixels`);
  if (c !== 1 && c !== 3) throw new ShapeError(`${op}: input 'frames' has ${c} channels (the last axis of ${fmtShape(s)}), expected 1 (grayscale) or 3 (RGB)`);
  if (h > GIF_MAX_SIDE || w > GIF_MAX_SIDE) throw new ShapeError(`${op}: frames of ${h}x${w} pixels exceed GIF's limit of ${GIF_MAX_SIDE} per side`);
}

function delays(op: string, delayMs: number | readonly number[], frames: number): number[] {
  const list = typeof delayMs === 'number' ? new Array<number>(frames).fill(delayMs) : [...delayMs];
  if (list.length !== frames) throw new ArgumentError(`${op}: delayMs has ${list.length} entries for ${frames} frames; give one number or one per frame`);
  for (const d of list) {
    if (typeof d !== 'number' || !Number.isFinite(d) || d < 0 || d > 655350) {
      throw new ArgumentError(`${op}: a frame delay must be a number of milliseconds in [0, 655350], found ${String(d)}`);
    }
  }
  return list.map((d) => Math.round(d));
}

/**
 * Encodes frames (F, H, W, C) in [-1, 1] (C = 1 or 3; NaN shows as black) as an animated GIF.
 * @example const bytes = await encodeGif(frames, { delayMs: 80 }); // loops forever
 */
export async function encodeGif(frames: Tensor, options: GifOptions = {}): Promise<Buffer> {
  const op = 'encodeGif';
  checkFrames(op, frames);
  const [f, h, w, c] = frames.shape as [number, number, number, number];
  const delay = delays(op, options.delayMs ?? 100, f);
  const loop = options.loop ?? 0;
  if (!Number.isInteger(loop) || loop < 0 || loop > 65535) throw new ArgumentError(`${op}: loop must be an integer in [0, 65535] (0: forever), found ${String(loop)}`);
  // The frames stacked vertically, one page each: libvips' layout of an animation.
  const raw = { width: w, height: h * f, channels: c as 1 | 3, pageHeight: h };
  // effort 1: effort 10 is ~6x slower and still moves some grey levels by one.
  return sharp(signedToUint(frames.toArray(), 8), { raw, limitInputPixels: false })
    .gif({ loop, delay, keepDuplicateFrames: true, dither: 0, effort: 1 })
    .toBuffer();
}

/**
 * Writes frames (F, H, W, C) in [-1, 1] as an animated GIF file, atomically.
 * @example await writeGif('trajectory.gif', frames, { delayMs: 100 });
 */
export async function writeGif(path: string, frames: Tensor, options: GifOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`writeGif: path must be a non-empty string, found ${JSON.stringify(path) ?? typeof path}`);
  writeFileAtomic(path, await encodeGif(frames, options));
}
