/** Native optimizer kernels (native/kernels/optim.cc). */
import type { OptimKernels } from '../kernels/optim.js';
import { f32, fn, nativeCall } from './loader.js';

type AdamwFn = (
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
) => void;
type EmaFn = (shadow: Float32Array, param: Float32Array, decay: number) => void;

export const nativeOptim: OptimKernels = {
  adamwStep(param, grad, expAvg, expAvgSq, h) {
    const args = [
      f32('adamw', 'param', param), f32('adamw', 'grad', grad),
      f32('adamw', 'expAvg', expAvg), f32('adamw', 'expAvgSq', expAvgSq),
    ] as const;
    nativeCall(() => fn<AdamwFn>('adamwStep')(...args, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.step));
  },
  emaUpdate(shadow, param, decay) {
    const s = f32('ema', 'shadow', shadow);
    const p = f32('ema', 'param', param);
    nativeCall(() => fn<EmaFn>('emaUpdate')(s, p, decay));
  },
};
