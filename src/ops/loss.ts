/**
 * Mean squared error, the DDPM training loss (Ho et al. 2020, eq. 14: ||eps - eps_theta||^2).
 * Forward and backward are fused kernels: the squared differences are summed in double
 * without materialising them, and each input's gradient is one pass.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectShape, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/** How a loss is reduced over elements. */
export type Reduction = 'mean' | 'sum' | 'none';

/**
 * mean, sum or elementwise (pred - target)^2. pred and target must have the same shape
 * (no broadcasting: a mismatch is almost always a bug). 'mean' and 'sum' return shape [].
 * @example const loss = mseLoss(epsPred, noise); loss.backward();
 */
export function mseLoss(pred: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  expectTensor('mseLoss', 'pred', pred);
  expectTensor('mseLoss', 'target', target);
  const dtype = sameDType('mseLoss', { pred, target });
  const dev = sameDevice('mseLoss', { pred, target });
  expectShape('mseLoss', 'target', target, pred.shape);
  let out: Tensor;
  // d/dpred of (p - t)^2 is 2 (p - t); the reduction scales it (mean: by 1/n).
  let scale: number;
  switch (reduction) {
    case 'mean':
    case 'sum': {
      const n = pred.size;
      out = emptyUninit([], dtype, dev);
      dev.kernels.sqDiffSum(pred.storage, target.storage, reduction === 'mean' ? n : 1, out.storage);
      scale = reduction === 'mean' ? 2 / n : 2;
      break;
    }
    case 'none':
      out = emptyUninit(pred.shape, dtype, dev);
      dev.kernels.sqDiff(pred.storage, target.storage, out.storage);
      scale = 2;
      break;
    default:
      throw new ArgumentError(`mseLoss: reduction must be 'mean', 'sum' or 'none', found ${JSON.stringify(reduction as unknown)}`);
  }
  return recordOp('mseLoss', out, [pred, target], (gy) => {
    const grad = (sign: number): Tensor => {
      const g = emptyUninit(pred.shape, dtype, dev);
      dev.kernels.sqDiffBackward(pred.storage, target.storage, gy.storage, sign * scale, g.storage);
      return g;
    };
    return [pred.requiresGrad ? grad(1) : null, target.requiresGrad ? grad(-1) : null];
  });
}

/**
 * mean_n w[n] * mean_i (pred[n, i] - target[n, i])^2: the per-sample weighted MSE (weights
 * default to 1, giving the plain MSE of Ho et al. eq. 14). Returns shape []; differentiable in
 * pred and target.
 * @example const loss = weightedMseLoss(model(xt, t), target, minSnrWeights(acp, t, 5, 'epsilon'));
 */
export function weightedMseLoss(pred: Tensor, target: Tensor, weights: number | ArrayLike<number> = 1): Tensor {
  const op = 'weightedMseLoss';
  expectTensor(op, 'pred', pred);
  expectTensor(op, 'target', target);
  expectShape(op, 'target', target, pred.shape);
  const dtype = sameDType(op, { pred, target });
  const dev = sameDevice(op, { pred, target });
  if (pred.rank < 1) throw new ShapeError(`${op}: input 'pred' must have a batch axis (rank >= 1), found shape ${fmtShape(pred.shape)}`);
  const batch = pred.shape[0]!;
  if (batch === 0 || pred.size === 0) throw new ShapeError(`${op}: input 'pred' is empty (shape ${fmtShape(pred.shape)}); a mean needs at least one element`);
  let w: Float64Array;
  if (typeof weights === 'number') w = new Float64Array(batch).fill(weights);
  else if (weights.length === batch || weights.length === 1) w = Float64Array.from({ length: batch }, (_, n) => weights[weights.length === 1 ? 0 : n]!);
  else throw new ShapeError(`${op}: 'weights' has ${weights.length} values, expected 1 or one per batch element (${batch})`);
  // Accumulated in double over each sample, weighted, divided by the element count N * per.
  const out = emptyUninit([], dtype, dev);
  dev.kernels.weightedSqDiffSum(pred.storage, target.storage, w, pred.size, out.storage);
  return recordOp(op, out, [pred, target], (gy) => {
    // d/dpred = 2 w[n] (pred - target) / (N * per), times the upstream scalar.
    const grad = (sign: number): Tensor => {
      const gt = emptyUninit(pred.shape, dtype, dev);
      dev.kernels.weightedSqDiffBackward(pred.storage, target.storage, gy.storage, w, sign * 2, pred.size, gt.storage);
      return gt;
    };
    return [pred.requiresGrad ? grad(1) : null, target.requiresGrad ? grad(-1) : null];
  });
}
