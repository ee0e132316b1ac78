/**
 * Mean squared error, the DDPM training loss (Ho et al. 2020, eq. 14: ||eps - eps_theta||^2).
 * Forward and backward are fused kernels: the squared differences are summed in double
 * without materialising them, and each input's gradient is one pass.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectShape, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError } from '../tensor/errors.js';

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
