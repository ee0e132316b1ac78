/**
 * Tests of PSNR and SSIM against closed forms: identical images (inf, 1), a constant shift's PSNR
 * (-20 log10 d), two constant images' SSIM ((2ab + C1) / (a^2 + b^2 + C1)), and an affine pair
 * y = alpha x + beta on one 11x11 window, whose SSIM follows from x's Gaussian-weighted mean and
 * variance alone; plus channel averaging and errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { psnr, ssim, imageQuality, SSIM_K1, SSIM_K2 } from '../../src/eval/image_metrics.js';
import { tensor } from '../../src/tensor/create.js';
import { uniformValues } from '../helpers/data.js';

const C1 = SSIM_K1 ** 2;
const C2 = SSIM_K2 ** 2;

describe('psnr', () => {
  it('is infinite for identical images and -20 log10(d) for a constant shift d', () => {
    const x = uniformValues(100, 1, 0.2, 0.8);
    assert.equal(psnr(x, x), Infinity);
    for (const d of [0.1, 0.01, 0.25]) assert.ok(Math.abs(psnr(x.map((v) => v + d), x) - -20 * Math.log10(d)) < 1e-9, `d = ${d}`);
    // Data range L: 10 log10(L^2 / MSE).
    assert.ok(Math.abs(psnr([0, 0], [255, 255], 255) - 0) < 1e-12);
    assert.throws(() => psnr([1, 2], [1]), /expected the same, non-zero count/);
  });
});

describe('ssim', () => {
  it('is 1 for identical images, whatever their content', () => {
    const x = uniformValues(20 * 17 * 2, 3, 0, 1);
    assert.ok(Math.abs(ssim(x, x, 20, 17, 2) - 1) < 1e-12);
  });

  it('of two constant images is (2ab + C1) / (a^2 + b^2 + C1)', () => {
    for (const [a, b] of [[0.2, 0.7], [0.5, 0.5], [0, 1]] as const) {
      const got = ssim(new Array(14 * 12).fill(a), new Array(14 * 12).fill(b), 14, 12, 1);
      assert.ok(Math.abs(got - (2 * a * b + C1) / (a * a + b * b + C1)) < 1e-12, `${a}, ${b}`);
    }
  });

  it('of y = alpha x + beta on one 11x11 window follows from the windowed mean and variance of x', () => {
    const x = uniformValues(121, 5, 0.1, 0.6);
    // The normalised 11x11 Gaussian (sigma 1.5) written out here, independently of the implementation.
    const g1 = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / 4.5));
    const s1 = g1.reduce((a, b) => a + b, 0);
    let mu = 0;
    let m2 = 0;
    for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
      const wgt = (g1[i]! * g1[j]!) / (s1 * s1);
      mu += wgt * x[i * 11 + j]!;
      m2 += wgt * x[i * 11 + j]! ** 2;
    }
    const v = m2 - mu * mu;
    for (const [alpha, beta] of [[1, 0.1], [0.5, 0.2], [-1, 0.9], [2, -0.1]] as const) {
      const y = x.map((t) => alpha * t + beta);
      const muY = alpha * mu + beta;
      const expected = ((2 * mu * muY + C1) * (2 * alpha * v + C2)) / ((mu * mu + muY * muY + C1) * ((1 + alpha * alpha) * v + C2));
      assert.ok(Math.abs(ssim(y, x, 11, 11, 1) - expected) < 1e-10, `alpha ${alpha}, beta ${beta}`);
    }
  });

  it('imageQuality maps [-1, 1] to [0, 1] and averages channels; small images are refused', () => {
    const a = uniformValues(2 * 12 * 12 * 3, 7, -1, 1);
    const q = imageQuality(tensor(a, [2, 12, 12, 3]), tensor(a, [2, 12, 12, 3]));
    assert.deepEqual(q.psnr, [Infinity, Infinity]);
    assert.ok(q.ssim.every((s) => Math.abs(s - 1) < 1e-12));
    const inner = uniformValues(12 * 12, 8, -0.7, 0.7);
    const r = imageQuality(tensor(inner.map((v) => v + 0.2), [1, 12, 12, 1]), tensor(inner, [1, 12, 12, 1]));
    // A shift of 0.2 on [-1, 1] is 0.1 on [0, 1]: 20 dB (up to float32 storage of the tensors).
    assert.ok(Math.abs(r.psnr[0]! - 20) < 1e-5, String(r.psnr[0]));
    assert.throws(() => ssim(new Array(100).fill(0), new Array(100).fill(0), 10, 10, 1), /smaller than the 11x11 window/);
  });
});
