/** Creating tensors. */
import { Tensor, allocStorage, numel, type DType } from './tensor.js';
import { ArgumentError, ShapeError, fmtShape } from './errors.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

function checkShapeArg(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ArgumentError(`${op}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
  }
}

/**
 * A tensor from values and a shape (row-major; images NHWC).
 * @example const x = tensor([1, 2, 3, 4], [2, 2]);
 */
export function tensor(data: ArrayLike<number>, shape: readonly number[], options: TensorOptions = {}): Tensor {
  checkShapeArg('tensor', shape);
  if (data === null || typeof data !== 'object' || typeof data.length !== 'number') {
    throw new ArgumentError(`tensor: data must be an array or typed array of numbers, found ${data === null ? 'null' : typeof data}`);
  }
  const n = numel(shape);
  if (data.length !== n) {
    throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${n} elements)`);
  }
  const storage = allocStorage(options.dtype ?? 'float32', n);
  storage.set(data);
  return new Tensor(storage, shape, options.requiresGrad ?? false);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShapeArg('full', shape);
  const storage = allocStorage(options.dtype ?? 'float32', numel(shape));
  if (value !== 0) storage.fill(value);
  return new Tensor(storage, shape, options.requiresGrad ?? false);
}

export const zeros = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 0, options);
export const ones = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 1, options);

/** A scalar (shape []). */
export function scalar(value: number, options: TensorOptions = {}): Tensor {
  return full([], value, options);
}

/** A zero-filled output buffer for an op: internal. */
export function empty(shape: readonly number[], dtype: DType): Tensor {
  return new Tensor(allocStorage(dtype, numel(shape)), shape);
}

/**
 * DIFFUSE_POISON_UNINIT=1 fills every uninitialised buffer with NaN, so a test run shows any
 * kernel that reads an output it was supposed to overwrite (run the tests with it set).
 */
const POISON_UNINIT = process.env.DIFFUSE_POISON_UNINIT === '1';

/**
 * An output buffer that is NOT zeroed, for kernels that write every element (every op's output:
 * each kernel contract in backend/kernels says "overwritten"): skipping the zero fill saves a
 * memset or a round of page faults per large tensor, and the V8 time of zeroing typed arrays.
 * Internal; use `empty` where a kernel writes only part of its output or accumulates into it.
 */
export function emptyUninit(shape: readonly number[], dtype: DType): Tensor {
  const n = numel(shape);
  const bytes = Buffer.allocUnsafeSlow(n * (dtype === 'float64' ? 8 : 4));
  const storage = dtype === 'float64' ? new Float64Array(bytes.buffer, bytes.byteOffset, n) : new Float32Array(bytes.buffer, bytes.byteOffset, n);
  if (POISON_UNINIT) storage.fill(NaN);
  return new Tensor(storage, shape);
}
