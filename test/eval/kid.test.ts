/**
 * KID: the unbiased MMD^2 against a hand-computed value on tiny sets; near 0 (within its spread)
 * for two sets from one distribution, clearly positive for shifted ones; subset checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kernelInceptionDistance, mmd2Unbiased } from '../../src/eval/kid.js';
import { Generator } from '../../src/tensor/random.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('mmd2Unbiased', () => {
  it('matches the estimator written out by hand for 1-d sets', () => {
    const x = [0, 1, 2];
    const y = [1, -1, 0.5];
    const k = (a: number, b: number) => (a * b + 1) ** 3; // d = 1
    let kxx = 0;
    let kyy = 0;
    let kxy = 0;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (i !== j) {
          kxx += k(x[i]!, x[j]!);
          kyy += k(y[i]!, y[j]!);
        }
        kxy += k(x[i]!, y[j]!);
      }
    }
    const expected = kxx / 6 + kyy / 6 - (2 * kxy) / 9;
    const got = mmd2Unbiased(Float32Array.from(x), Float32Array.from(y), 3, 1);
    assert.ok(Math.abs(got - expected) < 1e-9, `${got} vs ${expected}`);
  });
});

describe('kernelInceptionDistance', () => {
  const d = 8;
  const n = 400;
  const draw = (seed: number, shift = 0): Float32Array => {
    const x = hostBuffer(new Generator(seed).normal([n, d])) as Float32Array;
    for (let i = 0; i < n; i++) x[i * d] = x[i * d]! + shift;
    return x;
  };

  it('is near 0 for two sets from one distribution and positive for shifted sets', () => {
    const same = kernelInceptionDistance(draw(1), n, draw(2), n, d, { subsets: 20, subsetSize: 200 });
    // Unbiased: the mean over subsets sits within a few standard errors of 0.
    assert.ok(Math.abs(same.mean) < 4 * (same.std / Math.sqrt(20)) + 1e-3, `${same.mean} +- ${same.std}`);
    const shifted = kernelInceptionDistance(draw(1), n, draw(3, 1), n, d, { subsets: 20, subsetSize: 200 });
    assert.ok(shifted.mean > 10 * Math.abs(same.mean) && shifted.mean > 5 * shifted.std / Math.sqrt(20), `${shifted.mean} vs ${same.mean}`);
    assert.deepEqual([same.subsets, same.subsetSize], [20, 200]);
  });

  it('with one subset of every vector, equals the whole-set estimator', () => {
    const a = draw(4);
    const b = draw(5);
    const kid = kernelInceptionDistance(a, n, b, n, d, { subsets: 1, subsetSize: n });
    assert.ok(Math.abs(kid.mean - mmd2Unbiased(a, b, n, d)) < 1e-12);
  });

  it('rejects a subset larger than the smaller set', () => {
    assert.throws(() => kernelInceptionDistance(draw(1), n, draw(2).subarray(0, 10 * d), 10, d, { subsetSize: 20 }), /subsetSize must be an integer in \[2, 10\]/);
  });
});
