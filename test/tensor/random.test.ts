// Tests of the Philox4x32-10 generator: Random123 known answers, backend and thread-count
// independence, state round trips, counter layout, and the statistics of large draws.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Generator, rand, randn } from '../../src/tensor/random.js';
import { backend, withBackend } from '../../src/backend/backend.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

// Random123's known-answer vectors for Philox4x32-10 (kat_vectors; also TensorFlow's
// stateful_random_ops_test and Random123-Boost's test_philox.cpp): counter, key, expected output.
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

const BACKENDS = ['native', 'reference'] as const;

/** Distance in float32 units in the last place between two finite floats of the same sign. */
function ulpDiff(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  return Math.abs(i[0]! - i[1]!);
}

describe('Philox4x32-10 generator', () => {
  for (const b of BACKENDS) {
    it(`${b}: matches the Random123 known-answer vectors`, () => {
      withBackend(b, () => {
        for (const [ctr, key, expected] of KAT) {
          const out = new Uint32Array(4);
          backend().philox4x32(new Uint32Array(ctr), new Uint32Array(key), out);
          assert.deepEqual([...out], expected, `counter ${ctr.map((x) => x.toString(16))} key ${key.map((x) => x.toString(16))}`);
        }
      });
    });
  }

  it('closed form: uniform element i is (word >> 8) * 2^-24 of block (offset + i/4), lane i%4, key = seed', () => {
    // A seed above 2^32 and an offset just below 2^32 exercise both key halves and the counter carry.
    const seed = 0x1234567890abcdefn;
    const g = Generator.fromState({ seed: seed.toString(), offset: String(0xffffffff) });
    const u = g.uniform([8]);
    const expected: number[] = [];
    const out = new Uint32Array(4);
    const key = new Uint32Array([Number(seed & 0xffffffffn), Number(seed >> 32n)]);
    for (const ctr of [[0xffffffff, 0, 0, 0], [0, 1, 0, 0]]) {
      withBackend('reference', () => backend().philox4x32(new Uint32Array(ctr), key, out));
      for (const w of out) expected.push((w >>> 8) / 2 ** 24);
    }
    assert.deepEqual([...hostBuffer(u)], expected);
    assert.equal(g.getState().offset, String(0xffffffff + 2));
  });

  it('native and reference uniforms are bit-identical (odd size, large offset)', () => {
    const draw = (b: 'native' | 'reference'): Float32Array =>
      withBackend(b, () => {
        const g = Generator.fromState({ seed: '18446744073709551615', offset: '123456789012' });
        g.uniform([3]);
        return hostBuffer(g.uniform([4099])) as Float32Array;
      });
    assert.deepEqual(draw('native'), draw('reference'));
  });

  it('native and reference normals agree to 1 ulp (almost all exactly), mean and std applied', () => {
    const draw = (b: 'native' | 'reference'): Float32Array =>
      withBackend(b, () => hostBuffer(new Generator(2024).normal([3, 17, 13, 5], 0.5, 2)) as Float32Array);
    const n = draw('native');
    const r = draw('reference');
    let exact = 0;
    for (let i = 0; i < n.length; i++) {
      assert.ok(ulpDiff(n[i]!, r[i]!) <= 1, `element ${i}: native ${n[i]} vs reference ${r[i]}`);
      if (n[i] === r[i]) exact++;
    }
    assert.ok(exact >= 0.99 * n.length, `only ${exact} of ${n.length} identical`);
  });

  it('a float64 reference draw rounds to the float32 one', () => {
    const g64 = withBackend('reference', () => new Generator(5).normal([257], 0, 1, { dtype: 'float64' }));
    const g32 = withBackend('reference', () => new Generator(5).normal([257]));
    assert.equal(g64.dtype, 'float64');
    assert.deepEqual(Float32Array.from(hostBuffer(g64)), hostBuffer(g32));
    const u64 = withBackend('reference', () => new Generator(5).uniform([9], { dtype: 'float64' }));
    assert.deepEqual(Float32Array.from(hostBuffer(u64)), hostBuffer(new Generator(5).uniform([9])));
  });

  it('is independent of the thread count (child processes with DIFFUSE_THREADS=1 and 2)', () => {
    // Large enough for the native kernels' parallel path; the hash covers every bit.
    // The sources next to this file: .ts under tsx, .js when compiled to dist/.
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const src = (rel: string): string => JSON.stringify(fileURLToPath(new URL(`../../src/${rel}.${ext}`, import.meta.url)));
    const script = `
      const { Generator } = await import(${src('tensor/random')});
      const { addon } = await import(${src('backend/native/loader')});
      const { createHash } = await import('node:crypto');
      const g = new Generator(99);
      const h = createHash('sha256');
      for (const t of [g.uniform([1 << 17, 3]), g.normal([3, 1 << 16], 1, 3)]) h.update(new Uint8Array(t.data.buffer));
      console.log(JSON.stringify({ threads: addon().nativeInfo().threads, hash: h.digest('hex') }));`;
    const run = (threads: number): { threads: number; hash: string } =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          env: { ...process.env, DIFFUSE_THREADS: String(threads) },
          encoding: 'utf8',
        }).trim(),
      ) as { threads: number; hash: string };
    const one = run(1);
    const two = run(2);
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.equal(one.hash, two.hash);
  });

  it('state round trip (through JSON) reproduces the next draws exactly', () => {
    const g = new Generator(31337n);
    g.uniform([5]);
    g.normal([2, 3]);
    const saved = JSON.parse(JSON.stringify(g.getState())) as { seed: string; offset: string };
    const a = [hostBuffer(g.normal([7, 3])), hostBuffer(g.uniform([11])), hostBuffer(g.normal([1]))];
    const h = Generator.fromState(saved);
    assert.deepEqual([hostBuffer(h.normal([7, 3])), hostBuffer(h.uniform([11])), hostBuffer(h.normal([1]))], a);
    g.setState(saved);
    assert.deepEqual(hostBuffer(g.normal([7, 3])), a[0]);
  });

  it('offsets advance by the counters each draw consumed; aligned draws concatenate', () => {
    const g = new Generator(1);
    g.uniform([5]);
    assert.equal(g.getState().offset, '2');
    g.normal([]);
    assert.equal(g.getState().offset, '3');
    g.uniform([0, 4]);
    assert.equal(g.getState().offset, '3');
    const whole = hostBuffer(new Generator(8).normal([8]));
    const parts = new Generator(8);
    assert.deepEqual([...hostBuffer(parts.normal([4])), ...hostBuffer(parts.normal([4]))], [...whole]);
    // Same seed, same draws; another seed, other draws.
    assert.deepEqual(hostBuffer(new Generator(3).uniform([6])), hostBuffer(new Generator(3).uniform([6])));
    assert.notDeepEqual(hostBuffer(new Generator(3).uniform([6])), hostBuffer(new Generator(4).uniform([6])));
    assert.deepEqual(hostBuffer(rand([3], new Generator(9))), hostBuffer(new Generator(9).uniform([3])));
    assert.deepEqual(hostBuffer(randn([3], new Generator(9))), hostBuffer(new Generator(9).normal([3])));
  });

  it('large draws have the right mean and variance (5-sigma bounds)', () => {
    const g = new Generator(12345);
    const n = 1 << 20;
    const moments = (d: ArrayLike<number>): [number, number] => {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < d.length; i++) {
        s += d[i]!;
        s2 += d[i]! * d[i]!;
      }
      const mean = s / d.length;
      return [mean, s2 / d.length - mean * mean];
    };
    const [mz, vz] = moments(hostBuffer(g.normal([n])));
    assert.ok(Math.abs(mz) < 5 / Math.sqrt(n), `normal mean ${mz}`);
    assert.ok(Math.abs(vz - 1) < 5 * Math.sqrt(2 / n), `normal variance ${vz}`);
    const [ms, vs] = moments(hostBuffer(g.normal([n], 3, 0.5)));
    assert.ok(Math.abs(ms - 3) < 5 * 0.5 / Math.sqrt(n), `N(3, 0.5^2) mean ${ms}`);
    assert.ok(Math.abs(vs - 0.25) < 5 * 0.25 * Math.sqrt(2 / n), `N(3, 0.5^2) variance ${vs}`);
    const u = hostBuffer(g.uniform([n]));
    const [mu, vu] = moments(u);
    assert.ok(Math.abs(mu - 0.5) < 5 * Math.sqrt(1 / 12 / n), `uniform mean ${mu}`);
    assert.ok(Math.abs(vu - 1 / 12) < 5 * Math.sqrt(1 / 180 / n), `uniform variance ${vu}`);
    let lo = 1;
    let hi = 0;
    for (const x of u) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    assert.ok(lo >= 0 && hi < 1, `uniform range [${lo}, ${hi}]`);
  });

  it('rejects bad seeds, shapes, parameters and states with messages naming them', () => {
    assert.throws(() => new Generator(-1), /Generator: seed must be an integer in \[0, 2\^64\).*found -1/);
    assert.throws(() => new Generator(1.5), /found 1\.5/);
    assert.throws(() => new Generator(1n << 64n), ArgumentError);
    assert.throws(() => new Generator('7' as never), /found "7"/);
    const g = new Generator(0);
    assert.throws(() => g.uniform([2, -1]), /uniform: shape must be an array of non-negative integers, found \[2,-1\]/);
    assert.throws(() => g.normal(3 as never), /normal: shape must be/);
    assert.throws(() => g.normal([2], 0, -1), /normal: 'std' must be a finite number >= 0, found -1/);
    assert.throws(() => g.normal([2], NaN), /normal: 'mean' must be a finite number, found NaN/);
    assert.throws(() => g.setState({ seed: 'x', offset: '0' }), /Generator.setState: state 'seed' must be an integer/);
    assert.throws(() => g.setState(null as never), /state must be an object/);
    assert.throws(() => randn([2], {} as never), /randn: 'gen' must be a Generator/);
    // A failed draw must not have consumed counters.
    assert.equal(g.getState().offset, '0');
    // float64 draws run the reference kernel under the native backend (the addon is float32 only).
    const native64 = withBackend('native', () => new Generator(7).uniform([5], { dtype: 'float64' })).toArray('float64');
    const reference64 = withBackend('reference', () => new Generator(7).uniform([5], { dtype: 'float64' })).toArray('float64');
    assert.deepEqual(native64, reference64);
  });
});
