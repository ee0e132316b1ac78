/** Native random kernels (native/kernels/random.cc). */
import type { RandomKernels } from '../kernels/random.js';
import { f32, fn, nativeCall } from './loader.js';

type Philox4x32Fn = (counter: Uint32Array, key: Uint32Array, out: Uint32Array) => void;
type UniformFn = (out: Float32Array, keyLo: number, keyHi: number, offLo: number, offHi: number) => void;
type NormalFn = (out: Float32Array, keyLo: number, keyHi: number, offLo: number, offHi: number, mean: number, std: number) => void;

export const nativeRandom: RandomKernels = {
  philox4x32(counter, key, out) {
    nativeCall(() => fn<Philox4x32Fn>('philox4x32')(counter, key, out));
  },
  philoxUniform(out, key, offset) {
    const o = f32('uniform', 'out', out);
    nativeCall(() => fn<UniformFn>('philoxUniform')(o, key.lo, key.hi, offset.lo, offset.hi));
  },
  philoxNormal(out, key, offset, mean, std) {
    const o = f32('normal', 'out', out);
    nativeCall(() => fn<NormalFn>('philoxNormal')(o, key.lo, key.hi, offset.lo, offset.hi, mean, std));
  },
};
