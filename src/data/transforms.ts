/**
 * Pixel transforms between stored images and the model's range: unsigned integers (8- or 16-bit)
 * <-> float32 in [-1, 1] (DDPM, Ho et al. 2020, sec. 3.3: "images ... scaled linearly to [-1, 1]"),
 * and the random horizontal flip used as data augmentation. Images are (H, W, C) row-major,
 * batches (N, H, W, C).
 */
import { ArgumentError } from '../tensor/errors.js';

/** Bits per stored sample: 8 (0..255) or 16 (0..65535). */
export type BitDepth = 8 | 16;

/** The largest stored value of a bit depth. */
export function maxValue(bits: BitDepth): number {
  switch (bits) {
    case 8:
      return 255;
    case 16:
      return 65535;
  }
}

function checkBits(op: string, bits: unknown): asserts bits is BitDepth {
  if (bits !== 8 && bits !== 16) throw new ArgumentError(`${op}: bit depth must be 8 or 16, found ${String(bits)}`);
}

/**
 * Unsigned integer samples to [-1, 1]: v / max * 2 - 1.
 * @example uintToSigned(new Uint8Array([0, 255]), 8) // Float32Array [-1, 1]
 */
export function uintToSigned(src: ArrayLike<number>, bits: BitDepth, out: Float32Array = new Float32Array(src.length)): Float32Array {
  checkBits('uintToSigned', bits);
  if (out.length !== src.length) {
    throw new ArgumentError(`uintToSigned: output has ${out.length} elements, expected ${src.length} (the input's length)`);
  }
  const scale = 2 / maxValue(bits);
  for (let i = 0; i < src.length; i++) out[i] = (src[i] as number) * scale - 1;
  return out;
}

/**
 * [-1, 1] to unsigned integers of `bits`: round((clamp(x, -1, 1) + 1) / 2 * max). NaN maps to 0
 * (a NaN sample is a bug upstream; writing black keeps the file valid and visibly wrong).
 * Exact inverse of uintToSigned for every stored value.
 * @example signedToUint(new Float32Array([-1, 0, 1]), 8) // Uint8Array [0, 128, 255]
 */
export function signedToUint(x: ArrayLike<number>, bits: 8): Uint8Array;
export function signedToUint(x: ArrayLike<number>, bits: 16): Uint16Array;
export function signedToUint(x: ArrayLike<number>, bits: BitDepth): Uint8Array | Uint16Array;
export function signedToUint(x: ArrayLike<number>, bits: BitDepth): Uint8Array | Uint16Array {
  checkBits('signedToUint', bits);
  const max = maxValue(bits);
  const out = bits === 8 ? new Uint8Array(x.length) : new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (Number.isNaN(v)) continue; // stays 0
    const c = v < -1 ? -1 : v > 1 ? 1 : v;
    out[i] = Math.round(((c + 1) / 2) * max);
  }
  return out;
}

/** [0, 1] to [-1, 1]: 2x - 1. */
export function unitToSigned(x: number): number {
  return 2 * x - 1;
}

/** [-1, 1] to [0, 1]: (x + 1) / 2. */
export function signedToUnit(x: number): number {
  return (x + 1) / 2;
}

/**
 * Mirrors one (H, W, C) image left-right in place.
 * @example flipHorizontal(img, 28, 28, 1);
 */
export function flipHorizontal(image: Float32Array | Float64Array, height: number, width: number, channels: number): void {
  if (image.length !== height * width * channels) {
    throw new ArgumentError(
      `flipHorizontal: image has ${image.length} values, expected height*width*channels = ${height}*${width}*${channels} = ${height * width * channels}`,
    );
  }
  const row = width * channels;
  for (let y = 0; y < height; y++) {
    const base = y * row;
    // Swap pixel x with pixel W-1-x, all channels together.
    for (let x = 0; x < width >> 1; x++) {
      const a = base + x * channels;
      const b = base + (width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) {
        const t = image[a + c] as number;
        image[a + c] = image[b + c] as number;
        image[b + c] = t;
      }
    }
  }
}

/**
 * Random horizontal flip of a batch (N, H, W, C) in place: image n is mirrored when u[n] < 0.5.
 * The uniforms come from the caller (a seeded Generator) so the augmentation is reproducible.
 * Returns the flags (1 = flipped).
 */
export function randomFlipBatch(
  batch: Float32Array | Float64Array,
  shape: readonly [number, number, number, number],
  u: ArrayLike<number>,
): Uint8Array {
  const [n, h, w, c] = shape;
  if (u.length !== n) throw new ArgumentError(`randomFlipBatch: ${u.length} uniforms for a batch of ${n}, expected one per image`);
  if (batch.length !== n * h * w * c) {
    throw new ArgumentError(`randomFlipBatch: batch has ${batch.length} values, expected N*H*W*C = ${n * h * w * c} for shape [${shape.join(', ')}]`);
  }
  const flags = new Uint8Array(n);
  const per = h * w * c;
  for (let i = 0; i < n; i++) {
    if ((u[i] as number) < 0.5) {
      flags[i] = 1;
      flipHorizontal(batch.subarray(i * per, (i + 1) * per), h, w, c);
    }
  }
  return flags;
}
