/** Shared fixtures of the training tests: a tiny U-Net config and tiny 8x8 datasets from Fashion-MNIST. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnist } from '../../src/data/fashion_mnist.js';
import type { Dataset, Sample } from '../../src/data/dataset.js';

/** A tiny class-conditional U-Net for 8x8x1 images (3 classes + the null class), with dropout. */
export const TINY_UNET: Record<string, unknown> = {
  sample_size: 8,
  in_channels: 1,
  out_channels: 1,
  block_out_channels: [8, 16],
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
  up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
  layers_per_block: 1,
  norm_num_groups: 4,
  attention_head_dim: 8,
  num_class_embeds: 4,
  dropout: 0.1,
};

/** A fresh temporary folder. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `diffuse-train-${tag}-`));
}

/**
 * `n` Fashion-MNIST training images of classes 0..2, center-cropped to 24x24 and 3x3
 * average-pooled to 8x8 (values stay in [-1, 1]); labels are the garment classes.
 */
export class TinyFashion implements Dataset {
  readonly name = 'tiny-fashion';
  readonly imageSize = 8;
  readonly channels = 1;
  readonly numClasses = 3;
  readonly classNames = ['t-shirt', 'trouser', 'pullover'];
  readonly #images: Float32Array[] = [];
  readonly #labels: number[] = [];
  constructor(readonly length = 24) {
    const fm = fashionMnist('train');
    for (let i = 0; i < length; i++) {
      // 6000 training images per class, class-major: pick from the first three classes in turn.
      const s = fm.get((i % 3) * 6000 + Math.floor(i / 3));
      const out = new Float32Array(64);
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++) {
          let acc = 0;
          for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) acc += s.image[(2 + 3 * y + dy) * 28 + (2 + 3 * x + dx)]!;
          out[y * 8 + x] = acc / 9;
        }
      this.#images.push(out);
      this.#labels.push(s.label!);
    }
  }
  get(i: number): Sample {
    return { image: this.#images[i]!.slice(), label: this.#labels[i]! };
  }
}

/** Wraps a dataset so that every image after the first `goodGets` reads is NaN (to make the loss NaN at a known step). */
export class PoisonAfter implements Dataset {
  readonly name: string;
  readonly imageSize: number;
  readonly channels: number;
  readonly numClasses: number | null;
  readonly classNames: readonly string[];
  readonly length: number;
  #gets = 0;
  constructor(
    readonly inner: Dataset,
    readonly goodGets: number,
  ) {
    ({ name: this.name, imageSize: this.imageSize, channels: this.channels, numClasses: this.numClasses, classNames: this.classNames, length: this.length } = inner);
  }
  get(i: number): Sample {
    const s = this.inner.get(i);
    if (this.#gets++ >= this.goodGets) s.image.fill(NaN);
    return s;
  }
}
