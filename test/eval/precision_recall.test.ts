/**
 * k-NN precision and recall: 1 and 1 for identical sets; 0 and 0 for far-apart sets; a generated
 * set collapsed onto part of the real one keeps precision but loses recall; k-th neighbour radii
 * against brute force.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { precisionRecall } from '../../src/eval/precision_recall.js';
import { kthNeighbourDistances } from '../../src/eval/pairwise.js';
import { Generator } from '../../src/tensor/random.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const d = 5;
const draw = (n: number, seed: number, shift = 0): Float32Array => {
  const x = hostBuffer(new Generator(seed).normal([n, d])) as Float32Array;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + shift;
  return x;
};

describe('precisionRecall', () => {
  it('is 1 and 1 for identical sets', () => {
    const x = draw(300, 1);
    assert.deepEqual(precisionRecall(x, 300, x, 300, d), { precision: 1, recall: 1 });
  });

  it('is 0 and 0 for disjoint sets far apart', () => {
    assert.deepEqual(precisionRecall(draw(300, 1), 300, draw(300, 2, 50), 300, d), { precision: 0, recall: 0 });
  });

  it('keeps precision but loses recall when the samples cover only part of the data', () => {
    const real = draw(600, 3);
    // Generated: fresh draws from the same distribution, but only those with a positive first coordinate.
    const pool = draw(1200, 4);
    const kept: number[] = [];
    for (let i = 0; i < 1200 && kept.length < 300 * d; i++) if (pool[i * d]! > 0) kept.push(...pool.subarray(i * d, (i + 1) * d));
    const fake = Float32Array.from(kept);
    const { precision, recall } = precisionRecall(real, 600, fake, fake.length / d, d);
    assert.ok(precision > 0.85, `precision ${precision}`);
    assert.ok(recall < 0.7, `recall ${recall}`);
    // Same distribution, fresh draws: both high.
    const full = precisionRecall(real, 600, draw(600, 5), 600, d);
    assert.ok(full.precision > 0.85 && full.recall > 0.85, JSON.stringify(full));
  });
});

describe('kthNeighbourDistances', () => {
  it('matches brute force', () => {
    const n = 70;
    const x = draw(n, 6);
    const k = 3;
    const got = kthNeighbourDistances(x, n, d, k);
    for (let i = 0; i < n; i++) {
      const ds: number[] = [];
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        let s = 0;
        for (let c = 0; c < d; c++) s += (x[i * d + c]! - x[j * d + c]!) ** 2;
        ds.push(Math.sqrt(s));
      }
      ds.sort((a, b) => a - b);
      assert.ok(Math.abs(got[i]! - ds[k - 1]!) < 1e-4, `row ${i}: ${got[i]} vs ${ds[k - 1]}`);
    }
    assert.throws(() => kthNeighbourDistances(x, n, d, n), /k must be an integer in \[1, 69\]/);
  });
});
