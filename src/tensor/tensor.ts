/**
 * The Tensor: a shape, a flat row-major buffer (NHWC for images), and the autograd fields.
 * float32 is the working dtype; float64 exists only so the reference backend can run
 * gradient checks in double precision.
 */
import { backward as runBackward, type GradNode } from './autograd.js';
import { fmtShape } from './errors.js';

export type DType = 'float32' | 'float64';
export type Storage = Float32Array | Float64Array;

export class Tensor {
  /** Dimensions, outermost first; images are (N, H, W, C). */
  readonly shape: readonly number[];
  /** Row-major element buffer of length `size`. */
  readonly data: Storage;
  /** Whether gradients flow to this tensor. Leaves set it; op outputs inherit it. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after `backward()`; null until then. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive. */
  node: GradNode | null = null;

  constructor(data: Storage, shape: readonly number[], requiresGrad = false) {
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  get dtype(): DType {
    return this.data instanceof Float64Array ? 'float64' : 'float32';
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A float32 copy of the elements, row-major. */
  toArray(): Float32Array {
    return Float32Array.from(this.data);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item(): tensor has shape ${fmtShape(this.shape)}, expected one element`);
    return this.data[0] as number;
  }

  /**
   * Reverse-mode differentiation from this tensor. A non-scalar tensor needs `grad`
   * (the gradient of the loss with respect to it). Leaf gradients accumulate in `.grad`.
   */
  backward(grad?: Tensor, options: { retainGraph?: boolean } = {}): void {
    runBackward(this, grad, options.retainGraph ?? false);
  }

  /** The same data without graph history. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** Sets requiresGrad and returns this (for chaining at creation). */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  toString(): string {
    return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A fresh zero-filled buffer of `dtype`. */
export function allocStorage(dtype: DType, size: number): Storage {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}
