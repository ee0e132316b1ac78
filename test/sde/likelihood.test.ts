/**
 * The probability-flow ODE likelihood on Gaussian data, where the exact log-density is closed
 * form: with the exact score, the ODE's log p must match log N(x; MU, S^2) within 1% for each SDE,
 * with the exact trace (one VJP per dimension) and with Hutchinson's estimator; with the exact
 * prior p_T in place of N(0, priorStd^2) the only error left is the solver's, which must be tiny.
 * Dequantization adds exactly its change-of-variables offset; Gaussian probes are unbiased.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VpSde } from '../../src/sde/vp.js';
import { SubVpSde } from '../../src/sde/subvp.js';
import { VeSde } from '../../src/sde/ve.js';
import { odeLikelihood, dequantize, meanWithCi, odeLikelihoodOfModel } from '../../src/sde/likelihood.js';
import { SDE_T } from '../../src/sde/sde.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { UNet2DModel, configFromJSON } from '../../src/nn/unet_2d.js';
import { MU, S, gaussianScore, gaussianLogp, marginalMoments } from './gaussian.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const X = new Generator(1).normal([6, 4, 4, 1], MU, S); // 6 images of 16 dims

for (const sde of [new VpSde(), new SubVpSde(), new VeSde()]) {
  for (const estimator of ['exact', 'rademacher'] as const) {
    test(`${sde.name} ${estimator}: ODE log-likelihood matches the closed-form Gaussian log-density within 1%`, () => {
      const r = odeLikelihood(sde, gaussianScore(sde), X, { estimator, generator: new Generator(2) });
      const exact = gaussianLogp(X, MU, S * S);
      const total = exact.reduce((a, v) => a + v, 0);
      const got = r.logp.reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(got - total) < 0.01 * Math.abs(total), `${sde.name}: sum log p ${got} vs ${total}`);
      r.logp.forEach((l, i) => assert.ok(Math.abs(l - exact[i]!) < 0.01 * Math.abs(total / 6) + 0.05, `image ${i}: ${l} vs ${exact[i]}`));
      // bits/dim of continuous data: -log p / (D ln 2).
      r.bpd.forEach((b, i) => assert.ok(Math.abs(b + r.logp[i]! / (16 * Math.LN2)) < 1e-12));
      // The prior term uses N(0, priorStd^2); with the exact p_T instead, only the ODE error remains.
      const pT = marginalMoments(sde, SDE_T);
      const zLogp = gaussianLogp(r.z, pT.mean, pT.variance);
      const pEps = marginalMoments(sde, 1e-5);
      const atEps = gaussianLogp(X, pEps.mean, pEps.variance);
      zLogp.forEach((lz, i) => assert.ok(Math.abs(lz + r.deltaLogp[i]! - atEps[i]!) < 2e-3, `image ${i}: ODE error ${lz + r.deltaLogp[i]! - atEps[i]!}`));
      assert.ok(r.nfe > 10);
    });
  }
}

test("Gaussian probes: Hutchinson's estimate is unbiased (a batch of probes averages to the exact trace)", () => {
  const sde = new VpSde();
  // The same image 64 times: each copy gets its own probe.
  const one = hostBuffer(X).subarray(0, 16);
  const reps = new Tensor(new Float32Array(64 * 16).map((_, i) => one[i % 16]!), [64, 4, 4, 1]);
  const exact = odeLikelihood(sde, gaussianScore(sde), new Tensor(Float32Array.from(one), [1, 4, 4, 1]), { estimator: 'exact', rtol: 1e-4, atol: 1e-4 });
  const g = odeLikelihood(sde, gaussianScore(sde), reps, { estimator: 'gaussian', generator: new Generator(5), rtol: 1e-4, atol: 1e-4 });
  const { mean, ci95, std } = meanWithCi(g.deltaLogp);
  assert.ok(std > 0.1, 'Gaussian probes are noisy for this trace');
  assert.ok(Math.abs(mean - exact.deltaLogp[0]!) < 2 * ci95, `mean ${mean} +- ${ci95} vs exact ${exact.deltaLogp[0]}`);
});

test('dequantization: 8-bit levels map into their bins and bpd adds the 7-bit offset', () => {
  const pixels = [0, 1, 127, 255];
  const x = new Tensor(Float32Array.from(pixels, (p) => (2 * p) / 255 - 1), [1, 2, 2, 1]);
  const y = dequantize(x, new Generator(0));
  pixels.forEach((p, i) => {
    const lo = (2 * p) / 256 - 1;
    assert.ok(hostBuffer(y)[i]! >= lo && hostBuffer(y)[i]! < lo + 2 / 256, `pixel ${p}: ${hostBuffer(y)[i]}`);
  });
  assert.throws(() => dequantize(new Tensor(Float32Array.of(0.001), [1, 1]), new Generator(0)), /8-bit level/);
  // The same dequantized draw with and without the flag differs by exactly log2(128) bits/dim.
  const sde = new VpSde();
  const a = odeLikelihood(sde, gaussianScore(sde), x, { dequantize: true, generator: new Generator(3), rtol: 1e-3, atol: 1e-3 });
  const b = odeLikelihood(sde, gaussianScore(sde), dequantize(x, new Generator(3)), { generator: new Generator(3), rtol: 1e-3, atol: 1e-3 });
  assert.ok(Math.abs(a.bpd[0]! - b.bpd[0]! - 7) < 1e-9, `${a.bpd[0]} - ${b.bpd[0]}`);
});

test('odeLikelihoodOfModel runs a U-Net in batches with frozen weights; odeLikelihood refuses noGrad', () => {
  const model = new UNet2DModel(configFromJSON({ sample_size: 8, in_channels: 1, out_channels: 1, block_out_channels: [8, 8], down_block_types: ['DownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'UpBlock2D'], layers_per_block: 1, norm_num_groups: 4 }), { gen: new Generator(0) });
  const images = new Tensor(Float32Array.from({ length: 3 * 64 }, (_, i) => (2 * ((i * 37) % 256)) / 255 - 1), [3, 8, 8, 1]);
  const r = odeLikelihoodOfModel(new VpSde(), model, images, { dequantize: true, batchSize: 2, rtol: 0.1, atol: 0.1, eps: 0.5 });
  assert.equal(r.bpd.length, 3);
  assert.equal(r.nfe.length, 2);
  assert.ok(r.bpd.every((b) => Number.isFinite(b)));
  assert.ok(model.parameters().every((p) => p.requiresGrad && p.grad === null), 'weights unfrozen again, no weight gradients');
  assert.throws(() => noGrad(() => odeLikelihood(new VpSde(), gaussianScore(new VpSde()), X)), /noGrad/);
});
