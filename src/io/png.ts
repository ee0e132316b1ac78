/**
 * Image files through sharp (libvips): write one image or a grid of images (N, H, W, C) in
 * [-1, 1] as an 8- or 16-bit grayscale or RGB PNG (atomically), and decode PNG/JPEG files
 * (8- or 16-bit, grayscale or colour, alpha dropped) into (H, W, C) float32 in [-1, 1],
 * optionally resized and center-cropped to a square. Files come from outside: every decode reads
 * the header first and refuses more than DEFAULT_MAX_PIXELS (a small file can claim a huge size),
 * and every failure is an ImageDecodeError naming the file and what is wrong with it.
 */
import sharp from 'sharp';
import { Tensor } from '../tensor/tensor.js';
import { accessSync, constants as fsConstants, lstatSync, readlinkSync, statSync } from 'node:fs';
import { ArgumentError, DiffuseError, ShapeError, fmtShape } from '../tensor/errors.js';
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

/**
 * The largest image decoded by default, in pixels (width x height): 8192 x 8192 = 64 megapixels.
 * A 45-megapixel camera photo fits; a 1.5 MB PNG whose header claims 16000 x 16000 (a
 * decompression bomb: gigabytes of pixels) does not. Checked from the header, before decoding.
 */
export const DEFAULT_MAX_PIXELS = 8192 * 8192;

/**
 * An image file (or upload) that cannot be decoded: `source` names it (the path, or the label of
 * a buffer), `reason` says what is wrong with it; the message is both.
 */
export class ImageDecodeError extends DiffuseError {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

/** Options of a probe: the limits and the name used in errors. */
export interface ProbeOptions {
  /** Refuse images with more pixels than this (default DEFAULT_MAX_PIXELS), before decoding. */
  maxPixels?: number;
  /** How errors name a buffer input (default 'the image'); a path input is named by its path. */
  name?: string;
}

/** Options of a decode. */
export interface DecodeOptions extends ProbeOptions {
  /** Resize (shorter side to `size`) and center-crop to size x size. Default: keep the file's size. */
  size?: number;
}

/** A decoded image and what the file held. */
export interface DecodedImage extends RawImage {
  /** Sample depth of the file: 16 for 16-bit PNGs, 8 otherwise. */
  bitDepth: BitDepth;
}

/** What a header says, read without decoding pixels. */
export interface ImageProbe {
  /** Channels once alpha is dropped: 1 (grayscale) or 3 (colour). */
  channels: 1 | 3;
  bitDepth: BitDepth;
  width: number;
  height: number;
  /** The format libvips found ('png', 'jpeg', ...). */
  format: string;
}

const sourceName = (input: string | Buffer, name: string | undefined): string => (typeof input === 'string' ? input : name ?? 'the image');

function checkMaxPixels(op: string, maxPixels: unknown): number {
  if (maxPixels === undefined) return DEFAULT_MAX_PIXELS;
  if (typeof maxPixels !== 'number' || !Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new ArgumentError(`${op}: maxPixels must be a positive integer, found ${String(maxPixels)}`);
  }
  return maxPixels;
}

/** Before sharp sees a path: a missing, unreadable, empty or non-regular file, named plainly. */
function checkFile(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let dangling = false;
    try {
      dangling = code === 'ENOENT' && lstatSync(path).isSymbolicLink();
    } catch {
      // not there at all
    }
    if (dangling) throw new ImageDecodeError(path, `is a symbolic link to ${readlinkSafe(path)}, which does not exist (a dangling link); fix or remove the link`);
    if (code === 'ENOENT') throw new ImageDecodeError(path, 'no such file');
    if (code === 'ELOOP') throw new ImageDecodeError(path, 'is a symbolic link that points back to itself (a link loop); fix or remove the link');
    if (code === 'EACCES' || code === 'EPERM') throw new ImageDecodeError(path, 'cannot be read: permission denied; check its permissions (chmod +r)');
    throw new ImageDecodeError(path, `cannot be read (${code ?? (e as Error).message})`);
  }
  if (st.isDirectory()) throw new ImageDecodeError(path, 'is a folder, not an image file');
  if (!st.isFile()) throw new ImageDecodeError(path, 'is not a regular file (a device, pipe or socket); expected a PNG or JPEG file');
  if (st.size === 0) throw new ImageDecodeError(path, 'is empty (0 bytes); expected a PNG or JPEG file');
  try {
    accessSync(path, fsConstants.R_OK);
  } catch {
    throw new ImageDecodeError(path, 'cannot be read: permission denied; check its permissions (chmod +r)');
  }
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return 'a missing target';
  }
}

/** sharp's (libvips') message as a reason a person can act on. */
function decodeReason(e: unknown, stage: 'header' | 'pixels'): string {
  // libvips may report several lines; one line reads better in a CLI error.
  const msg = (e instanceof Error ? e.message : String(e)).trim().replace(/\s*\n\s*/g, '; ');
  if (/unsupported image format/i.test(msg)) return 'is not a PNG or JPEG image (nor another format libvips reads); check that the file is an image and its extension tells the truth';
  if (/exceeds pixel limit/i.test(msg)) return `has more pixels than the limit (${msg})`;
  if (/^Input (buffer|file) is empty/i.test(msg)) return 'is empty (0 bytes); expected a PNG or JPEG file';
  const what = stage === 'header' ? 'its header is truncated or corrupt' : 'its pixel data is truncated or corrupt';
  return `cannot be decoded: ${what} (${msg.replace(/^Input (file|buffer) has corrupt header: /i, '')}); re-export or re-download the file`;
}

/**
 * What an image file (path or bytes) holds, from its header alone: size, channels once alpha is
 * dropped (1 or 3), bit depth and format. Refuses, naming the file, what is wrong with it (missing,
 * empty, a folder, not an image, a truncated header) and images over `maxPixels`.
 * @example const { width, height, channels } = await probeImage('cat.png');
 */
export async function probeImage(input: string | Buffer, options: ProbeOptions = {}): Promise<ImageProbe> {
  const maxPixels = checkMaxPixels('probeImage', options.maxPixels);
  const source = sourceName(input, options.name);
  if (typeof input === 'string') checkFile(input);
  else if (!Buffer.isBuffer(input)) throw new ArgumentError(`probeImage: input must be a file path or a Buffer, found ${typeof input}`);
  else if (input.length === 0) throw new ImageDecodeError(source, 'is empty (0 bytes); expected a PNG or JPEG file');
  let m: sharp.Metadata;
  try {
    m = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageDecodeError(source, decodeReason(e, 'header'));
  }
  const { width, height } = m;
  if (width === undefined || height === undefined || width < 1 || height < 1) throw new ImageDecodeError(source, `has no image size in its header (found ${String(width)}x${String(height)}); it is not a usable image`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      source,
      `its header claims ${width}x${height} pixels (${((width * height) / 1e6).toFixed(1)} megapixels), more than the limit of ${maxPixels} pixels (${(maxPixels / 1e6).toFixed(1)} megapixels); resize the image (the model takes far smaller ones), or pass a larger maxPixels`,
    );
  }
  const colour = m.channels !== undefined && m.channels >= 3;
  const bitDepth: BitDepth = m.depth === 'ushort' ? 16 : 8;
  return { channels: colour ? 3 : 1, bitDepth, width, height, format: m.format ?? 'unknown' };
}

/**
 * Decodes a PNG or JPEG (file path or bytes) into (H, W, C) float32 in [-1, 1]: grayscale stays
 * one channel, colour becomes RGB, alpha is dropped, 16-bit files keep all 16 bits. The header is
 * read first: an image over `maxPixels` is refused before any pixel is decoded, and every failure
 * is an ImageDecodeError naming the file and what is wrong with it.
 * @example const { data, height, width, channels } = await decodeImage('cat.png', { size: 64 });
 */
export async function decodeImage(input: string | Buffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  const { size } = options;
  if (size !== undefined && (!Number.isInteger(size) || size < 1)) {
    throw new ArgumentError(`decodeImage: size must be a positive integer, found ${String(size)}`);
  }
  const maxPixels = checkMaxPixels('decodeImage', options.maxPixels);
  const source = sourceName(input, options.name);
  const { channels, bitDepth } = await probeImage(input, options);
  const space = channels === 1 ? (bitDepth === 16 ? 'grey16' : 'b-w') : bitDepth === 16 ? 'rgb16' : 'srgb';
  // Work in the file's own depth so resizing a 16-bit image keeps its precision. libvips checks
  // the pixel limit again itself (the file may have changed since the probe).
  let pipe = sharp(input, { limitInputPixels: maxPixels }).pipelineColourspace(space).removeAlpha();
  if (size !== undefined) pipe = pipe.resize(size, size, { fit: 'cover', position: 'centre' });
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await pipe
      .toColourspace(space)
      .raw({ depth: bitDepth === 16 ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageDecodeError(source, decodeReason(e, 'pixels'));
  }
  const { data, info } = decoded;
  if (info.channels !== channels) throw new ImageDecodeError(source, `decoded to ${info.channels} channels though its header says ${channels}; the file is inconsistent`);
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
