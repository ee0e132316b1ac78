/**
 * The memorisation figure: exact copies of training images are flagged, fresh draws are flagged
 * at about the quantile; nearest distances against brute force; the quantile is NumPy's linear one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { memorization, nearestDistances, quantile } from '../../src/eval/memorization.js';
import { Generator } from '../../src/tensor/random.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const d = 64; // 8x8 images
const draw = (n: number, seed: number): Float32Array => hostBuffer(new Generator(seed).uniform([n, d])).map((u) => 2 * u - 1) as Float32Array;

describe('memorization', () => {
  const train = draw(500, 1);
  const test = draw(200, 2);
  const testNn = nearestDistances(test, 200, train, 500, d);

  it('nearest distances match brute force', () => {
    for (let i = 0; i < 200; i += 37) {
      let best = Infinity;
      for (let j = 0; j < 500; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += (test[i * d + k]! - train[j * d + k]!) ** 2;
        best = Math.min(best, Math.sqrt(s));
      }
      assert.ok(Math.abs(testNn[i]! - best) < 1e-9, `${testNn[i]} vs ${best}`);
    }
  });

  it('flags exact copies of training images, and fresh images at about the quantile', () => {
    const copies = train.slice(0, 50 * d);
    const copied = memorization(nearestDistances(copies, 50, train, 500, d), testNn);
    assert.equal(copied.rate, 1);
    assert.equal(copied.sampleMedian, 0);
    // Real test images against their own threshold: 10 of 200 sit below the 5th percentile.
    const self = memorization(testNn, testNn, 0.05);
    assert.equal(self.rate, 10 / 200);
    const fresh = memorization(nearestDistances(draw(400, 3), 400, train, 500, d), testNn);
    assert.ok(fresh.rate < 0.15, `fresh draws flagged at ${fresh.rate}`);
    // Half copies, half fresh: at least the copies are flagged.
    const mixed = new Float32Array(100 * d);
    mixed.set(train.subarray(0, 50 * d));
    mixed.set(draw(50, 4), 50 * d);
    assert.ok(memorization(nearestDistances(mixed, 100, train, 500, d), testNn).rate >= 0.5);
  });

  it('quantile interpolates linearly (NumPy default)', () => {
    assert.equal(quantile(Float64Array.of(5, 1, 4, 2, 3), 0.25), 2);
    assert.equal(quantile([0, 10], 0.05), 0.5);
    assert.throws(() => quantile([1], 1.5), /q must be in \[0, 1\], found 1.5/);
  });
});
