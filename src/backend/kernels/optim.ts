/** Kernel contract of the optimizer family: in-place AdamW and EMA updates of one parameter buffer. */
import type { HostArray } from '../../tensor/tensor.js';

/** AdamW hyperparameters for one step (torch.optim.AdamW names, camelCased). */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step count including this step (>= 1), for the bias corrections. */
  step: number;
}

export interface OptimKernels<B = HostArray> {
  /**
   * One AdamW step in place, as torch.optim.AdamW:
   * p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
   * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). All buffers have the same length.
   */
  adamwStep(param: B, grad: B, expAvg: B, expAvgSq: B, h: AdamWHyper): void;
  /** shadow = decay*shadow + (1-decay)*param in place (same length). */
  emaUpdate(shadow: B, param: B, decay: number): void;
}
