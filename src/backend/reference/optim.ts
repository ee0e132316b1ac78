/** Reference optimizer kernels (AdamW as torch.optim.AdamW, EMA) in the buffer's own precision. */
import type { OptimKernels } from '../kernels/optim.js';

export const referenceOptim: OptimKernels = {
  adamwStep(param, grad, expAvg, expAvgSq, h) {
    const { lr, beta1, beta2, eps, weightDecay, step } = h;
    const decay = 1 - lr * weightDecay;
    const stepSize = lr / (1 - beta1 ** step);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** step);
    for (let i = 0; i < param.length; i++) {
      const g = grad[i]!;
      expAvg[i] = beta1 * expAvg[i]! + (1 - beta1) * g;
      expAvgSq[i] = beta2 * expAvgSq[i]! + (1 - beta2) * g * g;
      // Read m and v back so a float32 buffer's rounding enters the update, as it does natively.
      const denom = Math.sqrt(expAvgSq[i]!) / sqrtBc2 + eps;
      param[i] = param[i]! * decay - (stepSize * expAvg[i]!) / denom;
    }
  },
  emaUpdate(shadow, param, decay) {
    // shadow -= (1 - decay) * (shadow - param), as diffusers' EMAModel.
    const omd = 1 - decay;
    for (let i = 0; i < shadow.length; i++) shadow[i] = shadow[i]! - omd * (shadow[i]! - param[i]!);
  },
};
