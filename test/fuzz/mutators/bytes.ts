/**
 * Byte-level mutations (AFL's havoc stage, small): bit flips, random and "interesting" bytes and
 * integers (0, -1, powers of two, sign boundaries) written in either byte order, insertion,
 * deletion, duplication of a range, truncation and splicing with another input.
 */
import type { Rng } from '../rng.js';

/** Integers that sit on the edges parsers get wrong. */
export const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x64];
export const INTERESTING_U32 = [0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 65536, 100000, 1 << 24];
export const INTERESTING_U64 = [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 2n ** 53n, 2n ** 53n + 1n, 2n ** 32n, 2n ** 31n];

type ByteMutation = (rng: Rng, b: Buffer, other: Buffer | null) => Buffer;

const at = (rng: Rng, b: Buffer): number => (b.length === 0 ? 0 : rng.int(b.length));

const MUTATIONS: readonly (readonly [number, ByteMutation])[] = [
  [4, (rng, b) => { const c = Buffer.from(b); if (c.length > 0) { const i = at(rng, c); c[i] = c[i]! ^ (1 << rng.int(8)); } return c; }],
  [2, (rng, b) => { const c = Buffer.from(b); if (c.length > 0) c[at(rng, c)] = rng.u32() & 0xff; return c; }],
  [2, (rng, b) => { const c = Buffer.from(b); if (c.length > 0) c[at(rng, c)] = rng.pick(INTERESTING_U8); return c; }],
  [2, (rng, b) => {
    const c = Buffer.from(b);
    if (c.length < 4) return c;
    const i = rng.int(c.length - 3);
    const v = rng.pick(INTERESTING_U32);
    if (rng.chance(0.5)) c.writeUInt32LE(v, i); else c.writeUInt32BE(v, i);
    return c;
  }],
  [1, (rng, b) => {
    const c = Buffer.from(b);
    if (c.length < 8) return c;
    const i = rng.int(c.length - 7);
    const v = rng.pick(INTERESTING_U64);
    if (rng.chance(0.5)) c.writeBigUInt64LE(v, i); else c.writeBigUInt64BE(v, i);
    return c;
  }],
  [2, (rng, b) => { const i = at(rng, b); return Buffer.concat([b.subarray(0, i), rng.bytes(rng.range(1, 16)), b.subarray(i)]); }],
  [2, (rng, b) => { const i = at(rng, b); const n = rng.range(1, Math.max(1, Math.min(64, b.length - i))); return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]); }],
  [1, (rng, b) => { const i = at(rng, b); const n = rng.range(1, Math.max(1, Math.min(256, b.length - i))); return Buffer.concat([b.subarray(0, i + n), b.subarray(i, i + n), b.subarray(i + n)]); }],
  [2, (rng, b) => b.subarray(0, rng.int(b.length + 1))],
  [1, (rng, b, other) => (other === null ? b : Buffer.concat([b.subarray(0, at(rng, b)), other.subarray(at(rng, other))]))],
];

/**
 * One to `maxStacked` random mutations of `input` (a new buffer; `input` is not changed).
 * @example mutateBytes(rng, readFileSync('a.png'), null, 4)
 */
export function mutateBytes(rng: Rng, input: Buffer, other: Buffer | null = null, maxStacked = 4): Buffer {
  let b = input;
  const n = rng.range(1, maxStacked);
  for (let i = 0; i < n; i++) b = rng.weighted(MUTATIONS)(rng, b, other);
  return b;
}
