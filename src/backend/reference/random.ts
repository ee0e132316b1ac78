/**
 * Reference random kernels: Philox4x32-10 (Salmon et al. 2011) in plain TypeScript, the twin of
 * native/kernels/random.cc. Uniforms are bit-identical to the native ones; normals use the same
 * Box-Muller in double and round to the buffer's precision on store.
 */
import type { RandomKernels, U64Halves } from '../kernels/random.js';
import type { Storage } from '../../tensor/tensor.js';

// Philox4x32 multipliers and Weyl key increments (Random123's PHILOX_M4x32_* / PHILOX_W32_*).
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;
const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_32 = 1 / TWO_POW_32;
const TWO_POW_MINUS_24 = 1 / 16777216;

/** High 32 bits of the 64-bit product of two uint32 (16-bit limbs keep every partial exact). */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (aHi * bHi + (lohi >>> 16) + (hilo >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * One Philox4x32-10 block into `out` (4 words): 10 rounds, key bumped by the Weyl constants
 * between rounds. Counter words c0..c3, key words k0, k1, all uint32.
 */
export function philoxBlock(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let r = 0; r < ROUNDS; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Calls `fill(block, base, count)` for each block of a draw of `n` elements, in order. */
function forEachBlock(n: number, key: U64Halves, offset: U64Halves, fill: (b: Uint32Array, base: number, count: number) => void): void {
  const b = new Uint32Array(4);
  const blocks = Math.ceil(n / 4);
  for (let j = 0; j < blocks; j++) {
    // The 64-bit counter offset + j, carried into the high word.
    const lo = offset.lo + j;
    const c0 = lo % TWO_POW_32;
    const c1 = (offset.hi + Math.floor(lo / TWO_POW_32)) >>> 0;
    philoxBlock(c0, c1, 0, 0, key.lo, key.hi, b);
    fill(b, 4 * j, Math.min(4, n - 4 * j));
  }
}

export const referenceRandom: RandomKernels = {
  philox4x32(counter, key, out) {
    philoxBlock(counter[0]!, counter[1]!, counter[2]!, counter[3]!, key[0]!, key[1]!, out);
  },
  philoxUniform(out: Storage, key, offset) {
    forEachBlock(out.length, key, offset, (b, base, count) => {
      // The top 24 bits scaled by 2^-24: exact in float32, so both backends agree bit for bit.
      for (let k = 0; k < count; k++) out[base + k] = (b[k]! >>> 8) * TWO_POW_MINUS_24;
    });
  },
  philoxNormal(out: Storage, key, offset, mean, std) {
    const z = new Float64Array(4);
    forEachBlock(out.length, key, offset, (b, base, count) => {
      for (let p = 0; p < 2; p++) {
        // u1 in (0, 1] keeps log finite; u2 in [0, 1) is the angle.
        const u1 = (b[2 * p]! + 1) * TWO_POW_MINUS_32;
        const u2 = b[2 * p + 1]! * TWO_POW_MINUS_32;
        const r = Math.sqrt(-2 * Math.log(u1));
        const theta = 2 * Math.PI * u2;
        z[2 * p] = r * Math.cos(theta);
        z[2 * p + 1] = r * Math.sin(theta);
      }
      for (let k = 0; k < count; k++) out[base + k] = mean + std * z[k]!;
    });
  },
};
