/**
 * In-place optimizer updates of parameter tensors through the device's fused kernels (no graph,
 * no temporaries): one AdamW step (Loshchilov & Hutter 2019, as torch.optim.AdamW) and one EMA
 * update. The classes that hold the state are nn/adamw.ts and nn/ema.ts.
 */
import type { Tensor } from '../tensor/tensor.js';
import { sameDevice } from '../tensor/check.js';
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
