/**
 * What DiffusionPipeline's calls return: the images (a tensor (N, H, W, C) in [-1, 1]) with their
 * classes and the settings that made them, as PNG bytes (`toPng()`: one image, or a grid of all)
 * or a PNG file (`save(path)`: written atomically through the one file layer, so a crash or a
 * full disk never leaves a half-written image), one by one (`at(i)`, iteration) or together.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { sliceBatch } from '../ops/slice.js';
import { encodePng, imageGrid, type GridOptions, type PngOptions } from '../io/png.js';
import { writeFileAtomic } from '../io/atomic.js';

/** The settings a call ran with (the model folder's defaults where the call left them out). */
export interface GenerationSettings {
  /** The scheduler or sampler name (or a scheduler instance's class name). */
  scheduler: string;
  steps: number;
  /** Classifier-free guidance weight (1: none). */
  guidance: number;
  /** The seed the noise came from (drawn at random when the call gave neither seed nor generator), or null with a generator. */
  seed: number | bigint | null;
}

/** One image of a result. */
export class GeneratedImage {
  constructor(
    /** (1, H, W, C) in [-1, 1]. */
    readonly tensor: Tensor,
    /** Its class, or null for an unconditional model. */
    readonly classLabel: number | null,
    /** Its class's name, where the model folder names its classes. */
    readonly className: string | null,
  ) {}

  /**
   * PNG bytes (8 or 16 bits).
   * @example const png = await images.at(0).toPng(); // Buffer
   */
  async toPng(options: PngOptions = {}): Promise<Buffer> {
    const [, height, width, channels] = this.tensor.shape as [number, number, number, number];
    return encodePng({ data: this.tensor.toArray(), height, width, channels }, options);
  }

  /** Writes the PNG to `path`, atomically. */
  async save(path: string, options: PngOptions = {}): Promise<void> {
    writeFileAtomic(path, await this.toPng(options));
  }
}

/** The images of a call. */
export class GeneratedImages implements Iterable<GeneratedImage> {
  constructor(
    /** (N, H, W, C) in [-1, 1]. */
    readonly tensor: Tensor,
    /** The class of each image, or null for an unconditional model. */
    readonly classLabels: number[] | null,
    /** The model folder's class names (null when it has none). */
    readonly classNames: readonly string[] | null,
    readonly settings: GenerationSettings,
  ) {}

  /** Number of images. */
  get length(): number {
    return this.tensor.shape[0]!;
  }

  /** Image i (negative: from the end, as Array.prototype.at). */
  at(i: number): GeneratedImage {
    const n = this.length;
    const k = Number.isInteger(i) ? (i < 0 ? n + i : i) : NaN;
    if (!(k >= 0 && k < n)) throw new ArgumentError(`GeneratedImages.at: index ${String(i)} is out of range for ${n} image${n === 1 ? '' : 's'}`);
    const label = this.classLabels?.[k] ?? null;
    return new GeneratedImage(sliceBatch(this.tensor, k, k + 1), label, label === null ? null : (this.classNames?.[label] ?? null));
  }

  *[Symbol.iterator](): Iterator<GeneratedImage> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /**
   * PNG bytes: the image itself when there is one, else a grid of all (torchvision's make_grid
   * layout: `nrow` per row, default ceil(sqrt(N)), `padding` 2).
   * @example writeFileSync('grid.png', await images.toPng({ nrow: 4 }));
   */
  async toPng(options: GridOptions & PngOptions = {}): Promise<Buffer> {
    if (this.length === 1) return this.at(0).toPng(options);
    return encodePng(imageGrid(this.tensor, options), options);
  }

  /**
   * Writes toPng() to `path`, atomically.
   * @example await images.save('samples.png');
   */
  async save(path: string, options: GridOptions & PngOptions = {}): Promise<void> {
    writeFileAtomic(path, await this.toPng(options));
  }
}
