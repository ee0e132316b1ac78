/**
 * Tests of the super-resolution resampling: area downsampling against hand-computed block means,
 * Keys' bicubic kernel against its closed-form weights (a = -0.5), exact reproduction of constants
 * and of linear ramps away from the border, identity at the same size, and clear errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { areaDownsample, bicubicResize, degrade } from '../../src/data/resample.js';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError, ArgumentError } from '../../src/tensor/errors.js';
import { randTensor } from '../helpers/data.js';
import { maxAbs } from '../helpers/closeness.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('areaDownsample', () => {
  it('averages s x s blocks per image and channel (hand-computed)', () => {
    // (1, 2, 4, 2): channel 0 = 0..7, channel 1 = 10 * that.
    const v = [0, 1, 2, 3, 4, 5, 6, 7];
    const x = tensor(v.flatMap((a) => [a, 10 * a]), [1, 2, 4, 2]);
    const y = areaDownsample(x, 2);
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    // Block 0: (0 + 1 + 4 + 5) / 4 = 2.5; block 1: (2 + 3 + 6 + 7) / 4 = 4.5.
    assert.deepEqual(Array.from(hostBuffer(y)), [2.5, 25, 4.5, 45]);
  });

  it('rejects sizes that the factor does not divide, and bad factors', () => {
    assert.throws(() => areaDownsample(randTensor([1, 6, 6, 1], 1), 4), (e: unknown) => e instanceof ShapeError && /6x6 .* not a multiple of the factor 4/.test(e.message));
    assert.throws(() => areaDownsample(randTensor([1, 4, 4, 1], 1), 1.5), ArgumentError);
    assert.throws(() => areaDownsample(randTensor([4, 4, 1], 1), 2), /must be images \(N, H, W, C\)/);
  });
});

describe('bicubicResize', () => {
  it("a delta's 2x upsampling shows Keys' weights for a = -0.5", () => {
    // Output o of a 2x upsampling sits at input coordinate (o + 0.5) / 2 - 0.5; a delta at input 4
    // of a 9-wide row is seen by outputs 5..12 (coordinates 2.25 .. 5.75) with W(d), d = coordinate - 4:
    // W(1.75) = -0.0234375, W(1.25) = -0.0703125, W(0.75) = 0.2265625, W(0.25) = 0.8671875.
    const row = new Float32Array(9);
    row[4] = 1;
    const y = bicubicResize(tensor(row, [1, 1, 9, 1]), 1, 18);
    const expected = new Array<number>(18).fill(0);
    [-0.0234375, -0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375].forEach((w, k) => (expected[5 + k] = w));
    assert.ok(maxAbs(hostBuffer(y), expected) < 1e-7, `${Array.from(hostBuffer(y))}`);
  });

  it('keeps constants, is the identity at the same size, and reproduces a linear ramp away from the border', () => {
    const c = bicubicResize(tensor(new Float32Array(3 * 5 * 2).fill(0.3), [1, 3, 5, 2]), 7, 11);
    assert.ok(maxAbs(hostBuffer(c), new Float32Array(7 * 11 * 2).fill(0.3)) < 1e-6);
    const x = randTensor([2, 5, 6, 3], 4);
    assert.ok(maxAbs(hostBuffer(bicubicResize(x, 5, 6)), hostBuffer(x)) < 1e-6);
    // f(i, j) = 0.1 i - 0.05 j: 4x upsampled, every output whose 4 taps lie inside equals f at its coordinate.
    const n = 12;
    const ramp = tensor(Array.from({ length: n * n }, (_, k) => 0.1 * Math.floor(k / n) - 0.05 * (k % n)), [1, n, n, 1]);
    const up = bicubicResize(ramp, 4 * n, 4 * n);
    let checked = 0;
    for (let i = 0; i < 4 * n; i++)
      for (let j = 0; j < 4 * n; j++) {
        const ci = (i + 0.5) / 4 - 0.5;
        const cj = (j + 0.5) / 4 - 0.5;
        if (ci < 1 || cj < 1 || ci > n - 3 || cj > n - 3) continue;
        assert.ok(Math.abs(hostBuffer(up)[i * 4 * n + j]! - (0.1 * ci - 0.05 * cj)) < 1e-5, `(${i}, ${j})`);
        checked++;
      }
    assert.ok(checked > 1000);
  });

  it('degrade = bicubic(areaDownsample(x)) at the original size', () => {
    const hr = randTensor([2, 8, 8, 1], 9);
    const { lr, up } = degrade(hr, 2);
    assert.deepEqual(lr.shape, [2, 4, 4, 1]);
    assert.deepEqual(up.shape, [2, 8, 8, 1]);
    assert.deepEqual(Array.from(hostBuffer(up)), Array.from(hostBuffer(bicubicResize(areaDownsample(hr, 2), 8, 8))));
    assert.throws(() => bicubicResize(hr, 0, 4), /'outH' must be an integer >= 1, found 0/);
  });
});
