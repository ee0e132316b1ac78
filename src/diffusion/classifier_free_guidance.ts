/**
 * Classifier-free guidance (Ho & Salimans 2022, eq. 6): the model's conditional and unconditional
 * outputs, batched into one forward of 2B samples (conditional half first), combined as
 *   F~ = F_u + w (F_c - F_u) = (1 - w) F_u + w F_c,
 * evaluated in float64 and rounded once (diffusion/forward.ts's combine). The one place guidance
 * arithmetic lives: sampling/conditioned_model.ts and samplers/denoiser.ts both call it.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { sliceBatch } from '../ops/slice.js';
import { combine } from './forward.js';

/**
 * F_u + w (F_c - F_u), from `out` (2B, ...) holding the conditional half first.
 * @example const eps = classifierFreeGuidance(model.forward(concat([x, x], 0), t, [...labels, ...nulls]), b, 2);
 */
export function classifierFreeGuidance(out: Tensor, b: number, w: number): Tensor {
  if (out.shape[0] !== 2 * b) throw new ShapeError(`classifierFreeGuidance: the model output ${fmtShape(out.shape)} should hold 2 x ${b} samples (conditional, then unconditional)`);
  return combine('classifierFreeGuidance', w, sliceBatch(out, 0, b), 1 - w, sliceBatch(out, b, 2 * b), ['conditional', 'unconditional']);
}
