/**
 * Group normalisation over channels-last tensors (Wu & He, "Group Normalization", ECCV 2018),
 * exactly as torch.nn.GroupNorm: for each sample n and each group g of C / groups channels,
 *   xHat = (x - mean) / sqrt(var + eps)   (mean, biased var over H, W and the group's channels)
 *   y    = xHat * gamma[c] + beta[c]
 * and the fused `groupNormSilu` = silu(groupNorm(x)) in one pass forward and one backward (the
 * U-Net's ResnetBlock2D applies GroupNorm then SiLU everywhere). Forward saves mean and rstd per
 * (n, g); the gradient, right below each forward call, is
 *   gx = rstd * (gamma * gz - mean_g(gamma * gz) - xHat * mean_g(gamma * gz * xHat)),
 *   gGamma = sum gz * xHat,  gBeta = sum gz   (gz = dL/d(pre-activation)).
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectNumber, expectShape, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import type { GroupNormDims } from '../backend/kernels/norm.js';

/** Default variance epsilon, as torch.nn.GroupNorm. */
export const GROUP_NORM_EPS = 1e-5;

/** Validates the arguments of groupNorm / groupNormSilu and returns the kernel's view (N, S, C). */
function checkGroupNorm(op: string, x: unknown, groups: unknown, gamma: unknown, beta: unknown, eps: unknown): GroupNormDims {
  expectTensor(op, 'x', x);
  expectTensor(op, 'gamma', gamma);
  expectTensor(op, 'beta', beta);
  if (x.rank < 2) {
    throw new ShapeError(`${op}: input 'x' must have rank >= 2, (N, H, W, C) or (N, ..., C) with channels last, found shape ${fmtShape(x.shape)}`);
  }
  expectNumber(op, 'groups', groups, true);
  const c = x.shape[x.rank - 1]!;
  if (groups < 1) throw new ArgumentError(`${op}: 'groups' must be >= 1, found ${groups}`);
  if (c % groups !== 0) {
    throw new ShapeError(`${op}: channels C=${c} (the last axis of x ${fmtShape(x.shape)}) are not divisible by groups=${groups}; pick a number of groups that divides C`);
  }
  for (const [name, t] of [['gamma', gamma], ['beta', beta]] as const) {
    if (t.rank !== 1 || t.shape[0] !== c) {
      throw new ShapeError(`${op}: input '${name}' has shape ${fmtShape(t.shape)}, expected [${c}] (one per channel, the last axis of x ${fmtShape(x.shape)})`);
    }
  }
  expectNumber(op, 'eps', eps);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ArgumentError(`${op}: 'eps' must be a finite number >= 0, found ${eps}`);
  sameDType(op, { x, gamma, beta });
  sameDevice(op, { x, gamma, beta });
  const n = x.shape[0]!;
  return { n, s: n === 0 || c === 0 ? 0 : x.size / (n * c), c, groups };
}

function groupNormImpl(op: 'groupNorm' | 'groupNormSilu', x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const dims = checkGroupNorm(op, x, groups, gamma, beta, eps);
  const silu = op === 'groupNormSilu';
  const dev = x.device;
  const y = emptyUninit(x.shape, x.dtype, dev); // (N, H, W, C)
  const mean = emptyUninit([dims.n, groups], x.dtype, dev); // (N, G), saved for backward
  const rstd = emptyUninit([dims.n, groups], x.dtype, dev); // (N, G)
  if (x.size > 0) dev.kernels.groupNormForward(x.storage, gamma.storage, beta.storage, dims, eps, silu, y.storage, mean.storage, rstd.storage);
  return recordOp(op, y, [x, gamma, beta], (gy) => {
    const gx = emptyUninit(x.shape, x.dtype, dev);
    const gGamma = emptyUninit(gamma.shape, x.dtype, dev);
    const gBeta = emptyUninit(beta.shape, x.dtype, dev);
    if (x.size > 0) {
      dev.kernels.groupNormBackward(x.storage, gamma.storage, beta.storage, mean.storage, rstd.storage, gy.storage, dims, silu, gx.storage, gGamma.storage, gBeta.storage);
    } else {
      // An empty batch: no kernel runs, and the parameter gradients are sums over nothing.
      dev.kernels.fill(gGamma.storage, 0);
      dev.kernels.fill(gBeta.storage, 0);
    }
    return [gx, gGamma, gBeta];
  });
}

/**
 * Group norm of channels-last `x` (N, H, W, C) (any (N, ..., C)) with `groups` groups of C / groups
 * channels and per-channel affine `gamma`, `beta` (C), as torch.nn.GroupNorm. Differentiable in
 * x, gamma and beta.
 * @example const y = groupNorm(x, 8, gamma, beta); // x (N, 28, 28, 32), gamma/beta (32)
 */
export function groupNorm(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps = GROUP_NORM_EPS): Tensor {
  return groupNormImpl('groupNorm', x, groups, gamma, beta, eps);
}

/**
 * silu(groupNorm(x, groups, gamma, beta, eps)) in one fused pass forward and backward; the same
 * values and gradients as the composition, with less memory traffic and no intermediate tensor.
 * @example const h = groupNormSilu(x, 8, gamma, beta);
 */
export function groupNormSilu(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps = GROUP_NORM_EPS): Tensor {
  return groupNormImpl('groupNormSilu', x, groups, gamma, beta, eps);
}
