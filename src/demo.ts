/**
 * `diffuse demo`: the engine end to end in a few seconds. A tiny convolutional network learns
 * to predict the noise added to synthetic images (bright squares on a dark background), the
 * epsilon-prediction objective of DDPM (Ho et al. 2020) at one fixed noise level, trained with
 * the engine's autograd and AdamW.
 */
import { Tensor } from './tensor/tensor.js';
import { tensor } from './tensor/create.js';
import { Generator } from './tensor/random.js';
import { conv2d } from './ops/conv2d.js';
import { silu } from './ops/unary.js';
import { add, mul } from './ops/binary.js';
import { addScalar, mulScalar } from './ops/scalar.js';
import { mseLoss } from './ops/loss.js';
import { AdamW } from './nn/adamw.js';

/** Image size, channels and the noise level of the demo task. */
const SIZE = 16;
const WIDTH = 16;
const SIGMA = 0.5;

export interface DemoOptions {
  steps: number;
  batch?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface DemoResult {
  firstLoss: number;
  lastLoss: number;
}

/** A batch of (N, SIZE, SIZE, 1) images in [-1, 1], each with one bright square. */
function squares(n: number, gen: Generator): Tensor {
  const pos = gen.uniform([n, 3]).toArray();
  const img = new Float32Array(n * SIZE * SIZE).fill(-1);
  for (let b = 0; b < n; b++) {
    const side = 3 + Math.floor(pos[b * 3 + 2]! * 6);
    const y0 = Math.floor(pos[b * 3]! * (SIZE - side));
    const x0 = Math.floor(pos[b * 3 + 1]! * (SIZE - side));
    for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) img[(b * SIZE + y) * SIZE + x] = 1;
  }
  return tensor(img, [n, SIZE, SIZE, 1]);
}

/** PyTorch's default conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Weights are (O, KH, KW, I). */
function convParam(gen: Generator, shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const w = mulScalar(addScalar(gen.uniform(shape), -0.5), 2 * bound);
  return w.detach().requireGrad();
}

/** Trains the demo denoiser; returns the first and last (smoothed) losses. */
export function runDemo({ steps, batch = 32, seed = 0, log = () => {} }: DemoOptions): DemoResult {
  const gen = new Generator(seed);
  const w1 = convParam(gen, [WIDTH, 3, 3, 1], 9);
  const b1 = convParam(gen, [WIDTH], 9);
  const w2 = convParam(gen, [WIDTH, 3, 3, WIDTH], 9 * WIDTH);
  const b2 = convParam(gen, [WIDTH], 9 * WIDTH);
  const w3 = convParam(gen, [1, 3, 3, WIDTH], 9 * WIDTH);
  const b3 = convParam(gen, [1], 9 * WIDTH);
  const params = [w1, b1, w2, b2, w3, b3];
  const opt = new AdamW(params, { lr: 3e-3, weightDecay: 0 });
  const sigma = tensor([SIGMA], [1]);

  let first = NaN;
  let smooth = NaN;
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const x0 = squares(batch, gen);
    const eps = gen.normal(x0.shape);
    const xt = add(x0, mul(eps, sigma)); // x_t = x_0 + sigma * eps
    let h = silu(conv2d(xt, w1, b1, { padding: 1 }));
    h = silu(conv2d(h, w2, b2, { padding: 1 }));
    const epsHat = conv2d(h, w3, b3, { padding: 1 });
    const loss = mseLoss(epsHat, eps);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    const l = loss.item();
    if (step === 1) first = l;
    smooth = Number.isNaN(smooth) ? l : 0.9 * smooth + 0.1 * l;
    if (step === 1 || step % 20 === 0 || step === steps) {
      log(`step ${String(step).padStart(5)}  loss ${l.toFixed(4)}  (smoothed ${smooth.toFixed(4)})  ${((performance.now() - t0) / step).toFixed(1)} ms/step`);
    }
  }
  log(`noise-prediction loss fell from ${first.toFixed(4)} to ${smooth.toFixed(4)} (1.0 = predicting nothing)`);
  return { firstLoss: first, lastLoss: smooth };
}
