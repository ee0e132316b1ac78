/** Kernel contract of the core family: what the autograd engine itself needs. */
import type { Storage } from '../../tensor/tensor.js';

export interface CoreKernels {
  /** dst += alpha * src (same length). Gradient accumulation. */
  axpy(dst: Storage, src: Storage, alpha: number): void;
}
