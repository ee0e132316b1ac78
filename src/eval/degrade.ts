/**
 * Controlled degradations of real images for calibrating the metrics: Gaussian blur and additive
 * Gaussian noise. Scoring blurred or noised real images tells a reader how far a given Frechet
 * distance, KID or precision/recall figure is from the real-vs-real floor in visible terms.
 */
import { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

function check4(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4) throw new ShapeError(`${op}: images must be (N, H, W, C), found shape ${fmtShape(x.shape)}`);
  return x.shape as [number, number, number, number];
}

/**
 * Separable Gaussian blur with standard deviation `sigma` pixels (kernel radius ceil(3 sigma),
 * weights normalised, edges clamped); sigma 0 returns a copy.
 * @example const blurred = gaussianBlur(images, 1); // (N, H, W, C)
 */
export function gaussianBlur(images: Tensor, sigma: number): Tensor {
  const [n, h, w, c] = check4('gaussianBlur', images);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new ArgumentError(`gaussianBlur: sigma must be a number >= 0 (pixels), found ${sigma}`);
  const src = images.toArray();
  if (sigma === 0) return new Tensor(src, images.shape);
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const ks = k.reduce((a, b) => a + b, 0);
  const kn = k.map((v) => v / ks);
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length); // (N, H, W, C)
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let i = -r; i <= r; i++) s += kn[i + r]! * src[base + (y * w + clamp(x + i, w - 1)) * c + ch]!;
      tmp[base + (y * w + x) * c + ch] = s;
    }
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let i = -r; i <= r; i++) s += kn[i + r]! * tmp[base + (clamp(y + i, h - 1) * w + x) * c + ch]!;
      out[base + (y * w + x) * c + ch] = s;
    }
  }
  return new Tensor(out, images.shape);
}

/**
 * images + std * z, z ~ N(0, I) from a seeded generator, clamped back to [-1, 1] (std in the
 * [-1, 1] scale: 0.1 is about 13 grey levels of 255).
 * @example const noisy = addGaussianNoise(images, 0.1, 0);
 */
export function addGaussianNoise(images: Tensor, std: number, seed: number): Tensor {
  check4('addGaussianNoise', images);
  if (!(std >= 0) || !Number.isFinite(std)) throw new ArgumentError(`addGaussianNoise: std must be a number >= 0, found ${std}`);
  const z = new Generator(seed).normal(images.shape, 0, std).toArray();
  const x = images.toArray();
  const out = new Float32Array(images.size);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(-1, x[i]! + z[i]!));
  return new Tensor(out, images.shape);
}
