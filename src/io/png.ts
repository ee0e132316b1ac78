/**
 * Image files through sharp (libvips): write one image or a grid of images (N, H, W, C) in
 * [-1, 1] as an 8- or 16-bit grayscale or RGB PNG (atomically), and decode PNG/JPEG files
 * (8- or 16-bit, grayscale or colour, alpha dropped) into (H, W, C) float32 in [-1, 1],
 * optionally resized and center-cropped to a square.
 */
import sharp from 'sharp';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';
import { maxValue, signedToUint, type BitDepth } from '../data/transforms.js';

/** Options of a PNG write. */
export interface PngOptions {
  /** 8 (default) or 16 bits per sample. */
  bitDepth?: BitDepth;
}

/** Options of a grid. */
export interface GridOptions {
  /** Images per row (default ceil(sqrt(N))). */
  nrow?: number;
  /** Pixels between tiles and around the border (default 2). */
  padding?: number;
  /** Value of the padding, in [-1, 1] (default -1: black). */
  padValue?: number;
}

/** A plain image: (height, width, channels) row-major values. */
export interface RawImage {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

function checkBitDepth(op: string, bits: unknown): asserts bits is BitDepth {
  if (bits !== 8 && bits !== 16) throw new ArgumentError(`${op}: bitDepth must be 8 or 16, found ${String(bits)}`);
}

function checkChannels(op: string, name: string, c: number, shape: readonly number[]): void {
  if (c !== 1 && c !== 3) {
    throw new ShapeError(`${op}: input '${name}' has ${c} channels (the last axis of ${fmtShape(shape)}), expected 1 (grayscale) or 3 (RGB)`);
  }
}

/**
 * Tiles a batch (N, H, W, C) into one (H', W', C) image: `nrow` tiles per row, `padding` pixels
 * between tiles and around the border filled with `padValue` (torchvision's make_grid layout).
 * @example const g = imageGrid(samples, { nrow: 8 }); // 64 samples -> an 8x8 grid
 */
export function imageGrid(images: Tensor, options: GridOptions = {}): RawImage {
  if (!(images instanceof Tensor)) throw new ArgumentError(`imageGrid: input 'images' must be a Tensor, found ${typeof images}`);
  if (images.rank !== 4) throw new ShapeError(`imageGrid: input 'images' has shape ${fmtShape(images.shape)}, expected rank 4 (N, H, W, C)`);
  const [n, h, w, c] = images.shape as [number, number, number, number];
  if (n < 1) throw new ShapeError(`imageGrid: input 'images' has shape ${fmtShape(images.shape)}, expected at least one image`);
  const nrow = options.nrow ?? Math.ceil(Math.sqrt(n));
  const pad = options.padding ?? 2;
  const padValue = options.padValue ?? -1;
  if (!Number.isInteger(nrow) || nrow < 1) throw new ArgumentError(`imageGrid: nrow must be a positive integer, found ${String(nrow)}`);
  if (!Number.isInteger(pad) || pad < 0) throw new ArgumentError(`imageGrid: padding must be a non-negative integer, found ${String(pad)}`);
  if (typeof padValue !== 'number' || !Number.isFinite(padValue)) throw new ArgumentError(`imageGrid: padValue must be a finite number, found ${String(padValue)}`);
  const cols = Math.min(nrow, n);
  const rows = Math.ceil(n / cols);
  const gh = rows * (h + pad) + pad;
  const gw = cols * (w + pad) + pad;
  const data = new Float32Array(gh * gw * c).fill(padValue); // (H', W', C)
  const src = images.toArray();
  for (let i = 0; i < n; i++) {
    const y0 = pad + Math.floor(i / cols) * (h + pad);
    const x0 = pad + (i % cols) * (w + pad);
    for (let y = 0; y < h; y++) {
      const from = ((i * h + y) * w) * c;
      data.set(src.subarray(from, from + w * c), ((y0 + y) * gw + x0) * c);
    }
  }
  return { data, height: gh, width: gw, channels: c };
}

/** Encodes an image in [-1, 1] as PNG bytes. */
export async function encodePng(image: RawImage, options: PngOptions = {}): Promise<Buffer> {
  const bits = options.bitDepth ?? 8;
  checkBitDepth('encodePng', bits);
  const { height, width, channels } = image;
  checkChannels('encodePng', 'image', channels, [height, width, channels]);
  if (image.data.length !== height * width * channels) {
    throw new ShapeError(`encodePng: image has ${image.data.length} values, expected height*width*channels = ${height * width * channels}`);
  }
  const raw = { width, height, channels: channels as 1 | 3 };
  // The pixels' typed array tells sharp the sample depth; toColourspace keeps 1 channel and 16 bits
  // (by default libvips would write 8-bit sRGB).
  const space = channels === 1 ? (bits === 16 ? 'grey16' : 'b-w') : bits === 16 ? 'rgb16' : 'srgb';
  return sharp(signedToUint(image.data, bits), { raw }).toColourspace(space).png({ compressionLevel: 6 }).toBuffer();
}

function asSingleImage(op: string, image: Tensor): RawImage {
  if (!(image instanceof Tensor)) throw new ArgumentError(`${op}: input 'image' must be a Tensor, found ${typeof image}`);
  const s = image.shape;
  if (s.length === 4 && s[0] === 1) return { data: image.toArray(), height: s[1] as number, width: s[2] as number, channels: s[3] as number };
  if (s.length === 3) return { data: image.toArray(), height: s[0] as number, width: s[1] as number, channels: s[2] as number };
  throw new ShapeError(`${op}: input 'image' has shape ${fmtShape(s)}, expected (H, W, C) or (1, H, W, C); use writePngGrid for a batch`);
}

/**
 * Writes one image (H, W, C) or (1, H, W, C) in [-1, 1] to a PNG, atomically.
 * @example await writePng('x0.png', x, { bitDepth: 16 });
 */
export async function writePng(path: string, image: Tensor, options: PngOptions = {}): Promise<void> {
  const raw = asSingleImage('writePng', image);
  checkChannels('writePng', 'image', raw.channels, image.shape);
  writeFileAtomic(path, await encodePng(raw, options));
}

/**
 * Writes a batch (N, H, W, C) in [-1, 1] as one PNG grid, atomically.
 * @example await writePngGrid('grid.png', samples, { nrow: 8, padding: 2 });
 */
export async function writePngGrid(path: string, images: Tensor, options: GridOptions & PngOptions = {}): Promise<void> {
  if (images instanceof Tensor && images.rank === 4) checkChannels('writePngGrid', 'images', images.shape[3] as number, images.shape);
  const grid = imageGrid(images, options);
  writeFileAtomic(path, await encodePng(grid, options));
}

/** Options of a decode. */
export interface DecodeOptions {
  /** Resize (shorter side to `size`) and center-crop to size x size. Default: keep the file's size. */
  size?: number;
}

/** A decoded image and what the file held. */
export interface DecodedImage extends RawImage {
  /** Sample depth of the file: 16 for 16-bit PNGs, 8 otherwise. */
  bitDepth: BitDepth;
}

/** Channels of a file once alpha is dropped: 1 (grayscale) or 3 (colour), without decoding pixels. */
export async function probeImage(input: string | Buffer): Promise<{ channels: 1 | 3; bitDepth: BitDepth; width: number; height: number }> {
  const m = await sharp(input).metadata();
  const colour = m.channels !== undefined && m.channels >= 3;
  const bitDepth: BitDepth = m.depth === 'ushort' ? 16 : 8;
  if (m.width === undefined || m.height === undefined) throw new Error('the file has no image size');
  return { channels: colour ? 3 : 1, bitDepth, width: m.width, height: m.height };
}

/**
 * Decodes a PNG or JPEG (file path or bytes) into (H, W, C) float32 in [-1, 1]: grayscale stays
 * one channel, colour becomes RGB, alpha is dropped, 16-bit files keep all 16 bits.
 * @example const { data, height, width, channels } = await decodeImage('cat.png', { size: 64 });
 */
export async function decodeImage(input: string | Buffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  const { size } = options;
  if (size !== undefined && (!Number.isInteger(size) || size < 1)) {
    throw new ArgumentError(`decodeImage: size must be a positive integer, found ${String(size)}`);
  }
  const { channels, bitDepth } = await probeImage(input);
  const space = channels === 1 ? (bitDepth === 16 ? 'grey16' : 'b-w') : bitDepth === 16 ? 'rgb16' : 'srgb';
  // Work in the file's own depth so resizing a 16-bit image keeps its precision.
  let pipe = sharp(input).pipelineColourspace(space).removeAlpha();
  if (size !== undefined) pipe = pipe.resize(size, size, { fit: 'cover', position: 'centre' });
  const { data, info } = await pipe
    .toColourspace(space)
    .raw({ depth: bitDepth === 16 ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`);
  const n = info.width * info.height * channels;
  // A Uint16Array view needs an even byte offset; copy in the rare case sharp's buffer is not aligned.
  const bytes = bitDepth === 16 && data.byteOffset % 2 !== 0 ? Uint8Array.from(data) : data;
  const samples = bitDepth === 16 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint8Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n); // (H, W, C)
  const scale = 2 / maxValue(bitDepth);
  for (let i = 0; i < n; i++) out[i] = (samples[i] as number) * scale - 1;
  return { data: out, height: info.height, width: info.width, channels, bitDepth };
}

/**
 * Reads a PNG (or JPEG) into an (H, W, C) tensor in [-1, 1].
 * @example const x = await readPng('in.png'); // Tensor (H, W, C)
 */
export async function readPng(path: string): Promise<Tensor> {
  if (typeof path !== 'string') throw new ArgumentError(`readPng: path must be a string, found ${typeof path}`);
  const img = await decodeImage(path);
  return new Tensor(img.data, [img.height, img.width, img.channels]);
}
