import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LossAverage } from '../../src/train/loss_average.js';

describe('LossAverage (bias-corrected EMA of the loss)', () => {
  it('reads a constant loss exactly from the first step (an uncorrected EMA from 0 reads 0.02 c)', () => {
    const a = new LossAverage(0.02);
    assert.ok(Number.isNaN(a.value));
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(a.add(0.11) - 0.11) < 1e-15);
  });
  it('is the exponentially weighted mean of the losses seen (closed form)', () => {
    const alpha = 0.3;
    const a = new LossAverage(alpha);
    const losses = [0.9, 0.2, 0.5, 0.05, 0.3];
    losses.forEach((l, k) => {
      const got = a.add(l);
      // weights (1 - alpha)^(k - i) over i <= k, normalised
      let num = 0;
      let den = 0;
      for (let i = 0; i <= k; i++) {
        const w = (1 - alpha) ** (k - i);
        num += w * losses[i]!;
        den += w;
      }
      assert.ok(Math.abs(got - num / den) < 1e-14, `step ${k}: ${got} vs ${num / den}`);
    });
  });
});
