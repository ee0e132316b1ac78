/**
 * Kernel contract of the random family: Philox4x32-10 counter-based draws (Salmon et al. 2011).
 * Element i of a draw comes from counter (offset + floor(i/4)), lane i % 4, keyed by the 64-bit
 * seed, so both backends and every thread count give the same values.
 */
import type { HostArray } from '../../tensor/tensor.js';

/** A 64-bit value as two uint32 halves (seed as key, counter offset). */
export interface U64Halves {
  lo: number;
  hi: number;
}

export interface RandomKernels<B = HostArray> {
  /** One raw Philox4x32-10 block: out = philox(counter, key); counter (4 words), key (2), out (4). */
  philox4x32(counter: Uint32Array, key: Uint32Array, out: Uint32Array): void;
  /** out[i] = (word_i >> 8) * 2^-24 in [0, 1); consumes ceil(out.length / 4) counters from `offset`. */
  philoxUniform(out: B, key: U64Halves, offset: U64Halves): void;
  /**
   * out[i] = mean + std * z_i with z from Box-Muller in double on word pairs (0,1) and (2,3) of
   * each block; consumes ceil(out.length / 4) counters from `offset`.
   */
  philoxNormal(out: B, key: U64Halves, offset: U64Halves, mean: number, std: number): void;
}
