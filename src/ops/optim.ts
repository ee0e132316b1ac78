/**
 * In-place optimizer updates of parameter tensors through the device's fused kernels (no graph,
 * no temporaries): one AdamW step (Loshchilov & Hutter 2019, as torch.optim.AdamW) and one EMA
 * update. The classes that hold the state are nn/adamw.ts and nn/ema.ts.
 */
import type { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { expectNumber, sameDevice } from '../tensor/check.js';
import { concat } from './concat.js';
import { reshape } from './shape.js';
import { sum } from './reduce.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import type { AdamWHyper } from '../backend/kernels/optim.js';

export type { AdamWHyper };

function expectSameSize(op: string, ref: Tensor, named: Record<string, Tensor>): void {
  for (const name in named) {
    const t = named[name]!;
    if (t.size !== ref.size) throw new ShapeError(`${op}: '${name}' has shape ${fmtShape(t.shape)}, expected ${ref.size} elements like the parameter ${fmtShape(ref.shape)}`);
  }
}

/**
 * One AdamW step on `param` in place, updating the moment buffers expAvg and expAvgSq in place.
 * @example adamwStep(p, p.grad!, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 });
 */
export function adamwStep(param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, h: AdamWHyper): void {
  const named = { param, grad, expAvg, expAvgSq };
  const dev = sameDevice('adamwStep', named);
  expectSameSize('adamwStep', param, named);
  dev.kernels.adamwStep(param.storage, grad.storage, expAvg.storage, expAvgSq.storage, h);
}

/**
 * shadow = decay * shadow + (1 - decay) * param, in place.
 * @example emaUpdate(shadow, param, 0.9999);
 */
export function emaUpdate(shadow: Tensor, param: Tensor, decay: number): void {
  const dev = sameDevice('emaUpdate', { shadow, param });
  expectSameSize('emaUpdate', shadow, { param });
  dev.kernels.emaUpdate(shadow.storage, param.storage, decay);
}

/**
 * The global L2 norm of `tensors` together (each gradient's squares summed in double, the sums
 * added in double): torch.nn.utils.clip_grad_norm_'s total norm. One host read for all of them.
 * @example const norm = gradNorm(params.flatMap((p) => (p.grad === null ? [] : [p.grad])));
 */
export function gradNorm(tensors: readonly Tensor[]): number {
  if (tensors.length === 0) return 0;
  const dev = sameDevice('gradNorm', Object.fromEntries(tensors.map((t, i) => [`tensors[${i}]`, t])));
  const parts = tensors.map((t) => {
    const s = emptyUninit([1], 'float64', dev);
    dev.kernels.sumSquares(t.storage, s.storage);
    return s;
  });
  const total = parts.length === 1 ? parts[0]! : sum(concat(parts, 0));
  return Math.sqrt(reshape(total, []).item());
}

/**
 * The sum of squares of each batch entry (axis 0) of x, accumulated in double: a float64 (N)
 * tensor on x's device (no graph). For per-sample norms such as Langevin step sizes.
 * @example const norms = Array.from(rowSumSquares(g).toArray('float64'), Math.sqrt);
 */
export function rowSumSquares(x: Tensor): Tensor {
  if (x.rank < 1) throw new ShapeError(`rowSumSquares: x must have a batch axis (rank >= 1), found shape ${fmtShape(x.shape)}`);
  const out = emptyUninit([x.shape[0]!], 'float64', x.device);
  if (out.size > 0) x.device.kernels.sumSquares(x.storage, out.storage);
  return out;
}

/**
 * x *= s in place (no graph): scaling gradients for clipping without reallocating them.
 * @example scaleInPlace(p.grad!, maxNorm / norm);
 */
export function scaleInPlace(x: Tensor, s: number): void {
  expectNumber('scaleInPlace', 's', s);
  x.device.kernels.scalar('mul', x.storage, s, 0, x.storage);
}
