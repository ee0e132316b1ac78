/**
 * x_0 clipping and dynamic thresholding on tensors (schedulers/thresholding.ts). Oracle: the
 * in-place definitions on host arrays (dynamicThreshold, clipInPlace), per sample, NaN included.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clipInPlace, clipX0, dynamicThreshold, thresholdScale, thresholdX0 } from '../../src/schedulers/thresholding.js';
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/backend.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** The elements in their own precision (the oracle compares every bit it can). */
const values = (t: Tensor): number[] => Array.from(hostBuffer(t));

describe('thresholding', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`thresholdX0 (${dtype}, odd shape, one sample below 1, one capped) equals dynamicThreshold per sample`, () => {
      // Sample 0 spans [-3, 3] (s = its quantile), sample 1 is small (s clamps to 1), sample 2 is
      // wide (s capped by maxValue = 2.5).
      const x = randTensor([3, 5, 7, 3], 1, { dtype, lo: -3, hi: 3 });
      const host = Float64Array.from(values(x));
      for (let i = 105; i < 210; i++) host[i] = host[i]! / 10;
      const x0 = tensor(host, x.shape, { dtype });
      const want = Float64Array.from(values(x0));
      dynamicThreshold(want, 3, 0.9, 2.5);
      for (const be of ['native', 'reference'] as const) {
        const got = withBackend(be, () => thresholdX0(x0, 0.9, 2.5));
        assert.equal(got.dtype, dtype);
        // x / s as x * (1 / s): within an ulp of the definition.
        assertClose(values(got), dtype === 'float32' ? Array.from(want, Math.fround) : want, { nmseTol: dtype === 'float32' ? 1e-13 : 1e-28, absTol: dtype === 'float32' ? 1.2e-7 : 3e-16, what: be });
      }
    });
  }

  it('a NaN makes its whole sample NaN and leaves the others alone', () => {
    const x0 = tensor([4, -3, 2, -1, 0, 1, NaN, 0.5, 0.25, 0], [2, 5], { dtype: 'float64' });
    const got = values(thresholdX0(x0, 0.75, 10));
    assert.deepEqual(got.slice(0, 5), [1, -1, 2 / 3, -1 / 3, 0]);
    assert.ok(got.slice(5).every(Number.isNaN));
  });

  it('thresholdScale: the linear-interpolation quantile, clamped to [1, maxValue]', () => {
    assert.equal(thresholdScale(Float64Array.of(4, 3, 2, 1, 0), 0.75, 10), 3);
    assert.equal(thresholdScale(Float64Array.of(0.5, 0.1), 0.5, 10), 1);
    assert.equal(thresholdScale(Float64Array.of(9, 8), 0.5, 2), 2);
    assert.equal(thresholdScale(Float64Array.of(4, 0), 0.5, 10), 2);
    assert.ok(Number.isNaN(thresholdScale(Float64Array.of(1, NaN), 0.5, 10)));
  });

  it('clipX0 equals clipInPlace, NaN kept', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x0 = tensor([-2, -0.25, 0.3, 9, NaN, 0.5, -0.7], [1, 7], { dtype });
      const want = Float64Array.from(values(x0));
      clipInPlace(want, 0.6);
      assert.deepEqual(values(clipX0(x0, 0.6)), Array.from(want, dtype === 'float32' ? Math.fround : (v: number) => v));
    }
  });
});
