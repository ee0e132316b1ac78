/**
 * The CPU device: storage is a host Float32Array or Float64Array; the kernels are the current
 * backend (native unless useBackend('reference') chose the plain-TypeScript ones; the native
 * backend routes float64 buffers to the reference kernels). Reads are immediate.
 */
import type { DType, HostArray } from '../tensor/tensor.js';
import { backend } from './backend.js';
import { registerDevice, type Device, type DeviceBuffer } from './device.js';

/**
 * DIFFUSE_POISON_UNINIT=1 fills every uninitialised buffer with NaN, so a test run shows any
 * kernel that reads an output it was supposed to overwrite (run the tests with it set).
 */
const POISON_UNINIT = process.env.DIFFUSE_POISON_UNINIT === '1';

function alloc(dtype: DType, size: number): HostArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

export const cpu: Device<HostArray> = {
  name: 'cpu',
  get kernels() {
    return backend();
  },
  alloc,
  /**
   * Not zeroed: skipping the zero fill saves a memset or a round of page faults per large tensor,
   * and the V8 time of zeroing typed arrays.
   */
  allocUninit(dtype, size) {
    const bytes = Buffer.allocUnsafeSlow(size * (dtype === 'float64' ? 8 : 4));
    const out = dtype === 'float64' ? new Float64Array(bytes.buffer, bytes.byteOffset, size) : new Float32Array(bytes.buffer, bytes.byteOffset, size);
    if (POISON_UNINIT) out.fill(NaN);
    return out;
  },
  fromHost(values, dtype) {
    const out = alloc(dtype, values.length);
    out.set(values);
    return out;
  },
  owns(buffer: DeviceBuffer): buffer is HostArray {
    return buffer instanceof Float32Array || buffer instanceof Float64Array;
  },
  dtypeOf(buffer) {
    return buffer instanceof Float64Array ? 'float64' : 'float32';
  },
  lengthOf(buffer) {
    return buffer.length;
  },
  readSync(buffer) {
    return buffer;
  },
  read(buffer) {
    return Promise.resolve(buffer);
  },
};

registerDevice(cpu);
