/**
 * Layer normalisation over the last axis (Ba, Kiros & Hinton, "Layer Normalization", 2016), as
 * torch.nn.functional.layer_norm with normalized_shape = [D]:
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance over the last axis)
 * gamma and beta (D) are each optional. Forward saves mean and rstd per row; the gradient is
 *   gx = rstd * (gh - mean(gh) - xHat * mean(gh * xHat)),  gh = gy * gamma,
 *   gGamma = sum_rows gy * xHat,  gBeta = sum_rows gy.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectNumber, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/** Default variance epsilon, as torch.nn.LayerNorm. */
export const LAYER_NORM_EPS = 1e-5;

/**
 * Layer norm of `x` (..., D) over its last axis, with optional affine `gamma`, `beta` (D).
 * Differentiable in x and in whichever of gamma, beta are given.
 * @example const y = layerNorm(h, gamma, beta); // h (B, L, D)
 */
export function layerNorm(x: Tensor, gamma?: Tensor | null, beta?: Tensor | null, eps = LAYER_NORM_EPS): Tensor {
  const op = 'layerNorm';
  expectTensor(op, 'x', x);
  if (x.rank < 1) throw new ShapeError(`${op}: input 'x' must have rank >= 1 (..., D), found shape ${fmtShape(x.shape)}`);
  const d = x.shape[x.rank - 1]!;
  const g = gamma ?? null;
  const b = beta ?? null;
  for (const [name, t] of [['gamma', g], ['beta', b]] as const) {
    if (t === null) continue;
    expectTensor(op, name, t);
    if (t.rank !== 1 || t.shape[0] !== d) {
      throw new ShapeError(`${op}: input '${name}' has shape ${fmtShape(t.shape)}, expected [${d}] (the last axis of x ${fmtShape(x.shape)})`);
    }
    sameDType(op, { x, [name]: t });
    sameDevice(op, { x, [name]: t });
  }
  expectNumber(op, 'eps', eps);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ArgumentError(`${op}: 'eps' must be a finite number >= 0, found ${eps}`);

  const rows = d === 0 ? 0 : x.size / d;
  const dev = x.device;
  const y = emptyUninit(x.shape, x.dtype, dev); // (..., D)
  const mean = emptyUninit([rows], x.dtype, dev); // saved for backward
  const rstd = emptyUninit([rows], x.dtype, dev);
  if (x.size > 0) dev.kernels.layerNormForward(x.storage, g?.storage ?? null, b?.storage ?? null, rows, d, eps, y.storage, mean.storage, rstd.storage);

  const inputs = [x, ...(g ? [g] : []), ...(b ? [b] : [])];
  return recordOp(op, y, inputs, (gy) => {
    const gx = emptyUninit(x.shape, x.dtype, dev);
    const gGamma = g && g.requiresGrad ? emptyUninit([d], x.dtype, dev) : null;
    const gBeta = b && b.requiresGrad ? emptyUninit([d], x.dtype, dev) : null;
    if (x.size > 0) {
      dev.kernels.layerNormBackward(x.storage, g?.storage ?? null, mean.storage, rstd.storage, gy.storage, rows, d, gx.storage, gGamma?.storage ?? null, gBeta?.storage ?? null);
    } else {
      if (gGamma !== null) dev.kernels.fill(gGamma.storage, 0);
      if (gBeta !== null) dev.kernels.fill(gBeta.storage, 0);
    }
    return [gx, ...(g ? [gGamma] : []), ...(b ? [gBeta] : [])];
  });
}
