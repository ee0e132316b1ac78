/**
 * A small labelled folder made in the test: 3 classes of simple coloured shapes (a red square, a
 * green disc, a blue triangle) at 16x16 RGB, each at a random position and size on a dark
 * background with a little pixel noise, as DIR/<class>/NNN.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { writePng } from '../../src/io/png.js';

export const SHAPE_CLASSES = ['disc', 'square', 'triangle'] as const;
export const SHAPE_SIZE = 16;

/** n images (N, 16, 16, 3) in [-1, 1] of class c, seeded. */
export function shapeImages(c: number, n: number, seed: number): Tensor {
  const S = SHAPE_SIZE;
  const u = new Generator(seed).uniform([n * 4 + n * S * S * 3]).toArray();
  const out = new Float32Array(n * S * S * 3); // (N, S, S, 3)
  const colour = [[-0.9, 0.8, -0.9], [0.9, -0.8, -0.8], [-0.8, -0.7, 0.9]][c]!; // disc green, square red, triangle blue
  for (let i = 0; i < n; i++) {
    const r = 3 + u[4 * i]! * 2.5; // half-size 3..5.5
    const cx = r + u[4 * i + 1]! * (S - 2 * r);
    const cy = r + u[4 * i + 2]! * (S - 2 * r);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        const inside = c === 0 ? dx * dx + dy * dy <= r * r : c === 1 ? Math.abs(dx) <= r && Math.abs(dy) <= r : dy <= r && dy >= -r && Math.abs(dx) <= (dy + r) / 2;
        for (let ch = 0; ch < 3; ch++) {
          const noise = (u[n * 4 + ((i * S + y) * S + x) * 3 + ch]! - 0.5) * 0.2;
          out[((i * S + y) * S + x) * 3 + ch] = Math.max(-1, Math.min(1, (inside ? colour[ch]! : -0.9) + noise));
        }
      }
    }
  }
  return new Tensor(out, [n, S, S, 3]);
}

/** Writes perClass images of each class to dir/<class>/NNN.png. */
export async function writeShapesFolder(dir: string, perClass: number, seed: number): Promise<void> {
  for (let c = 0; c < SHAPE_CLASSES.length; c++) {
    const sub = join(dir, SHAPE_CLASSES[c]!);
    mkdirSync(sub, { recursive: true });
    const imgs = shapeImages(c, perClass, seed * 7 + c);
    const per = SHAPE_SIZE * SHAPE_SIZE * 3;
    const all = imgs.toArray();
    for (let i = 0; i < perClass; i++) {
      await writePng(join(sub, `${String(i).padStart(3, '0')}.png`), new Tensor(all.slice(i * per, (i + 1) * per), [SHAPE_SIZE, SHAPE_SIZE, 3]));
    }
  }
}
