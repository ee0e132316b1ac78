/**
 * Devices: where a tensor's storage lives and which kernels run on it. A tensor holds a storage
 * handle and its device; ops take the device of their inputs (refusing a mix) and hand the
 * handles to `device.kernels`, so nothing outside src/backend, src/tensor and src/ops touches a
 * buffer. The CPU device (backend/cpu.ts) stores host typed arrays and runs the native or the
 * reference kernels (useBackend); a GPU device stores its own buffer handles and runs its own
 * kernels, and reads values back asynchronously.
 */
import type { DType, HostArray } from '../tensor/tensor.js';
import type { Kernels } from './backend.js';
import { ArgumentError } from '../tensor/errors.js';

/**
 * The storage handle of a tensor on a device other than the CPU (a GPU buffer with its length
 * and dtype, ...): opaque to everything but its device.
 */
export interface DeviceHandle {
  /** The name of the device that made it. */
  readonly deviceName: string;
}

/**
 * A tensor's storage: a host array on the CPU, a device's handle elsewhere. Opaque outside
 * src/backend, src/tensor and src/ops: everything else reads values with toArray(), item() or
 * data(), and computes with ops.
 */
export type DeviceBuffer = HostArray | DeviceHandle;

/**
 * A device: a buffer type `B`, the kernels over it, and the moves between it and the host.
 * @example const y = add(x, x); y.device.name === x.device.name
 */
export interface Device<B extends DeviceBuffer = DeviceBuffer> {
  /** 'cpu', 'webgpu', ... (unique among registered devices). */
  readonly name: string;
  /** Every kernel family over this device's buffers (the CPU's: the current backend, native or reference). */
  readonly kernels: Kernels<B>;
  /** A zero-filled buffer of `size` elements. */
  alloc(dtype: DType, size: number): B;
  /** A buffer of `size` elements whose contents are unspecified, for kernel outputs (each contract says "overwritten"). */
  allocUninit(dtype: DType, size: number): B;
  /** A new buffer holding `values` converted to `dtype`. */
  fromHost(values: ArrayLike<number>, dtype: DType): B;
  /** Whether `buffer` is one of this device's buffers (checked when a Tensor is made). */
  owns(buffer: DeviceBuffer): buffer is B;
  dtypeOf(buffer: B): DType;
  /** Number of elements. */
  lengthOf(buffer: B): number;
  /**
   * The values on the host, now: a view on the CPU (callers never write through it), a copy
   * elsewhere. A device that can only read asynchronously throws a DeviceError naming data().
   */
  readSync(buffer: B): HostArray;
  /** The values on the host (a copy, or the CPU's own array: callers copy before writing). */
  read(buffer: B): Promise<HostArray>;
}

const devices = new Map<string, Device>();

/**
 * Makes a device known by name (creators and `to()` accept the name). Throws if another device
 * has the name.
 * @example registerDevice(webgpuDevice); const x = zeros([2, 2], { device: 'webgpu' });
 */
export function registerDevice(device: Device): void {
  const known = devices.get(device.name);
  if (known !== undefined && known !== device) {
    throw new ArgumentError(`registerDevice: a different device named '${device.name}' is already registered; unregister it first or choose another name`);
  }
  devices.set(device.name, device);
}

/** Forgets a registered device (tests); 'cpu' stays. */
export function unregisterDevice(name: string): void {
  if (name !== 'cpu') devices.delete(name);
}

/**
 * The registered device called `name`.
 * @example getDevice('cpu')
 */
export function getDevice(name: string): Device {
  const d = devices.get(name);
  if (d === undefined) {
    throw new ArgumentError(`unknown device '${name}'; registered devices: ${[...devices.keys()].map((k) => `'${k}'`).join(', ')}`);
  }
  return d;
}

/** A device given as an object or a registered name; `fallback` when undefined. `op` names the caller in errors. */
export function resolveDevice(op: string, device: Device | string | undefined, fallback: Device): Device {
  if (device === undefined) return fallback;
  if (typeof device === 'string') return getDevice(device);
  if (device === null || typeof device !== 'object' || typeof device.name !== 'string' || typeof device.alloc !== 'function') {
    throw new ArgumentError(`${op}: 'device' must be a Device or a registered device name such as 'cpu', found ${device === null ? 'null' : typeof device}`);
  }
  return device;
}
