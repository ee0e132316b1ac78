/**
 * The Tensor: a shape, a storage handle on a device (row-major; NHWC for images), and the
 * autograd fields. float32 is the working dtype; float64 exists for gradient checks in double
 * precision and float64 schedule arithmetic.
 *
 * Values are read explicitly: `toArray()` and `item()` copy to the host now (devices that can),
 * `data()` on any device. Arithmetic goes through ops, which run the device's kernels on
 * the storage handles; only src/backend, src/tensor and src/ops look at `storage`.
 */
import { backward as runBackward, type GradNode } from './autograd.js';
import { ArgumentError, DeviceError, ShapeError, fmtShape } from './errors.js';
import { numel } from './shape.js';
import { cpu } from '../backend/cpu.js';
import { resolveDevice, type Device, type DeviceBuffer } from '../backend/device.js';

export { numel };

export type DType = 'float32' | 'float64';
/** A host array of a dtype: the CPU device's storage, and what reads return. */
export type HostArray = Float32Array | Float64Array;
/** @deprecated the CPU's storage type; say HostArray (host values) or DeviceBuffer (any device's storage). */
export type Storage = HostArray;

export class Tensor {
  /** Dimensions, outermost first; images are (N, H, W, C). */
  readonly shape: readonly number[];
  /** The elements, row-major, as a handle of `device`: opaque outside src/backend, src/tensor and src/ops. */
  readonly storage: DeviceBuffer;
  /** Where the storage lives and whose kernels ops run on it. */
  readonly device: Device;
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Whether gradients flow to this tensor. Leaves set it; op outputs inherit it. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after `backward()`; null until then. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive. */
  node: GradNode | null = null;

  /**
   * A tensor over `storage` (not copied), which must be a buffer of `device` (default the CPU:
   * a Float32Array or Float64Array) with one element per entry of `shape`.
   * @example new Tensor(Float32Array.of(1, 2, 3, 4), [2, 2])
   */
  constructor(storage: DeviceBuffer, shape: readonly number[], requiresGrad = false, device: Device = cpu) {
    if (!device.owns(storage)) {
      const v: unknown = storage;
      const found = v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
      throw new ArgumentError(
        device === cpu
          ? `Tensor: storage must be a Float32Array or Float64Array, found ${found}; build a tensor from other values with tensor(values, shape)`
          : `Tensor: storage ${found} is not a buffer of device '${device.name}'; create tensors on it with tensor(values, shape, { device })`,
      );
    }
    this.storage = storage;
    this.device = device;
    this.dtype = device.dtypeOf(storage);
    this.size = device.lengthOf(storage);
    this.shape = Object.freeze([...shape]);
    if (this.size !== numel(this.shape)) {
      throw new ShapeError(`Tensor: storage has ${this.size} elements but shape ${fmtShape(this.shape)} needs ${numel(this.shape)}`);
    }
    this.requiresGrad = requiresGrad;
  }

  get rank(): number {
    return this.shape.length;
  }

  /**
   * A host copy of the elements, row-major, in `dtype` (default float32, whatever the tensor's
   * dtype; ask for 'float64' to keep a float64 tensor's precision). Needs a device that reads
   * synchronously (the CPU); use `await data()` on any device.
   * @example const pixels = image.toArray(); // Float32Array
   */
  toArray(): Float32Array;
  toArray(dtype: 'float32'): Float32Array;
  toArray(dtype: 'float64'): Float64Array;
  toArray(dtype: DType): HostArray;
  toArray(dtype: DType = 'float32'): HostArray {
    return copyAs(this.device.readSync(this.storage), dtype);
  }

  /**
   * The elements on the host from any device (a GPU copies them back), in `dtype` (default
   * float32): a new array.
   * @example const values = await t.data();
   */
  data(): Promise<Float32Array>;
  data(dtype: 'float32'): Promise<Float32Array>;
  data(dtype: 'float64'): Promise<Float64Array>;
  data(dtype: DType): Promise<HostArray>;
  async data(dtype: DType = 'float32'): Promise<HostArray> {
    return copyAs(await this.device.read(this.storage), dtype);
  }

  /** The value of a one-element tensor, as a JavaScript number (a host read: keep it out of per-step loops on a GPU). */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item(): tensor has shape ${fmtShape(this.shape)}, expected one element`);
    return this.device.readSync(this.storage)[0]!;
  }

  /**
   * This tensor on `device` (an object or a registered name): itself if it is there already,
   * else a copy there. The copy is a new leaf (no gradient flows back through it) and needs a
   * source device that reads synchronously; `toAsync` works from any device.
   * @example const g = x.to('webgpu');
   */
  to(device: Device | string): Tensor {
    const target = resolveDevice('to', device, cpu);
    if (target === this.device) return this;
    return new Tensor(target.fromHost(this.device.readSync(this.storage), this.dtype), this.shape, false, target);
  }

  /** `to(device)` from any device (reads the source asynchronously). */
  async toAsync(device: Device | string): Promise<Tensor> {
    const target = resolveDevice('toAsync', device, cpu);
    if (target === this.device) return this;
    return new Tensor(target.fromHost(await this.device.read(this.storage), this.dtype), this.shape, false, target);
  }

  /**
   * Reverse-mode differentiation from this tensor. A non-scalar tensor needs `grad`
   * (the gradient of the loss with respect to it). Leaf gradients accumulate in `.grad`.
   */
  backward(grad?: Tensor, options: { retainGraph?: boolean } = {}): void {
    runBackward(this, grad, options.retainGraph ?? false, makeTensor);
  }

  /** The same storage without graph history (shared, not copied). */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, false, this.device);
  }

  /** Sets requiresGrad and returns this (for chaining at creation). */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  toString(): string {
    const where = this.device === cpu ? '' : `, device=${this.device.name}`;
    return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}${where}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** The tensor factory the autograd engine builds gradients with. */
function makeTensor(storage: DeviceBuffer, shape: readonly number[], device: Device): Tensor {
  return new Tensor(storage, shape, false, device);
}

/** A new host array of `dtype` holding `values`. */
function copyAs(values: HostArray, dtype: DType): HostArray {
  // The typed-array constructors copy (and convert) in one native pass.
  return dtype === 'float64' ? new Float64Array(values) : new Float32Array(values);
}

/** @deprecated A fresh zero-filled host array of `dtype` (host arithmetic; tensors come from the creators in create.ts). */
export function allocStorage(dtype: DType, size: number): HostArray {
  return cpu.alloc(dtype, size);
}

/**
 * The live host array of a CPU tensor, shared (writes change the tensor): for the CPU backends,
 * and for tests, which read and perturb values as oracles. Library code reads values with
 * toArray(), item() or await data(), and computes with ops (an architecture test keeps it so).
 * @example hostBuffer(x)[0] = 1; // a test's perturbation
 */
export function hostBuffer(t: Tensor): HostArray {
  if (t.device !== cpu) {
    throw new DeviceError(`hostBuffer: the tensor is on device '${t.device.name}'; only cpu tensors have a host array. Read it with await t.data() or t.toArray()`);
  }
  return t.storage as HostArray;
}
