/** Creating tensors, on the CPU unless a device is given. */
import { Tensor, numel, type DType } from './tensor.js';
import { ArgumentError, ShapeError, fmtShape } from './errors.js';
import { cpu } from '../backend/cpu.js';
import { resolveDevice, type Device } from '../backend/device.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
  /** Where the tensor lives: a Device or a registered name (default 'cpu'). */
  device?: Device | string;
}

function checkShapeArg(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ArgumentError(`${op}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
  }
}

/**
 * A tensor from values and a shape (row-major; images NHWC). The values are copied.
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
  const device = resolveDevice('tensor', options.device, cpu);
  return new Tensor(device.fromHost(data, options.dtype ?? 'float32'), shape, options.requiresGrad ?? false, device);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShapeArg('full', shape);
  const device = resolveDevice('full', options.device, cpu);
  const storage = device.alloc(options.dtype ?? 'float32', numel(shape));
  if (value !== 0) device.kernels.fill(storage, value);
  return new Tensor(storage, shape, options.requiresGrad ?? false, device);
}

export const zeros = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 0, options);
export const ones = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 1, options);

/** A scalar (shape []). */
export function scalar(value: number, options: TensorOptions = {}): Tensor {
  return full([], value, options);
}

/** A zero-filled output buffer for an op on `device` (default the CPU): internal. */
export function empty(shape: readonly number[], dtype: DType, device: Device = cpu): Tensor {
  return new Tensor(device.alloc(dtype, numel(shape)), shape, false, device);
}

/**
 * An output buffer that is NOT zeroed, for kernels that write every element (every op's output:
 * each kernel contract in backend/kernels says "overwritten"); on the CPU this saves a memset or
 * a round of page faults per large tensor (DIFFUSE_POISON_UNINIT=1 fills it with NaN instead,
 * so tests catch a kernel that reads it). Internal; use `empty` where a kernel writes only part
 * of its output or accumulates into it.
 */
export function emptyUninit(shape: readonly number[], dtype: DType, device: Device = cpu): Tensor {
  return new Tensor(device.allocUninit(dtype, numel(shape)), shape, false, device);
}
