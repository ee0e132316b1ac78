/**
 * The two likelihoods of issue 6 side by side on Gaussian data with ideal models: the discrete
 * variational bound (diffusion/vlb.ts; DDPM's linear schedule, i.e. the VP SDE discretised with T
 * steps, continuous Gaussian decoder) must bound the probability-flow ODE's exact NLL (VP SDE,
 * exact score) from above, and the ODE must sit on the closed-form NLL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { alphasCumprod, linspace } from '../../src/diffusion/schedules.js';
import { DiffusionVlb } from '../../src/diffusion/vlb.js';
import { vlbBitsPerDim, meanCi95 } from '../../src/diffusion/vlb_bpd.js';
import { VpSde } from '../../src/sde/vp.js';
import { odeLikelihood } from '../../src/sde/likelihood.js';
import { MU, S, gaussianScore, gaussianLogp } from './gaussian.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

test('VLB (T = 200, fixed_small, ideal epsilon) >= ODE NLL (VP SDE, exact score) ~ the exact NLL, per image', () => {
  const T = 200;
  const N = 16;
  const D = 16;
  const vlb = new DiffusionVlb(alphasCumprod(linspace(0.1 / T, 20 / T, T)), { predictionType: 'epsilon', varianceType: 'fixed_small', decoder: 'gaussian' });
  const z = hostBuffer(new Generator(21).normal([N * D]));
  const x64 = tensor(Array.from(z, (v) => MU + S * v), [N, 4, 4, 1], { dtype: 'float64' });
  // The ideal epsilon for x_0 ~ N(MU, S^2): E[x_0 | x_t] = MU + k (x_t - sqrt(abar) MU).
  const model = (xt: Tensor, t: Float64Array): Tensor => {
    const per = xt.size / t.length;
    return tensor(Array.from(hostBuffer(xt), (v, i) => {
      const ab = vlb.alphasCumprod[t[Math.floor(i / per)]!]!;
      const x0 = MU + ((Math.sqrt(ab) * S * S) / (ab * S * S + 1 - ab)) * (v - Math.sqrt(ab) * MU);
      return (v - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab);
    }), xt.shape, { dtype: 'float64' });
  };
  const bound = vlbBitsPerDim(model, vlb, x64, { generator: new Generator(22), timestepsPerImage: 'all', batchSize: N });
  const sde = new VpSde();
  const x32 = new Tensor(Float32Array.from(hostBuffer(x64)), x64.shape);
  const ode = odeLikelihood(sde, gaussianScore(sde), x32, { estimator: 'exact' });
  const exact = gaussianLogp(x32, MU, S * S).map((l) => -l / (D * Math.LN2));
  const gaps = Array.from(bound.bpd, (b, n) => b - ode.bpd[n]!);
  const g = meanCi95(gaps);
  assert.ok(g.mean > 0 && g.mean >= g.ci95, `VLB - ODE = ${g.mean} ± ${g.ci95} bits/dim`);
  const odeMean = meanCi95(ode.bpd).mean;
  const exactMean = meanCi95(exact).mean;
  assert.ok(Math.abs(odeMean - exactMean) < 0.01 * Math.abs(exactMean) + 1e-3, `ODE ${odeMean} vs exact ${exactMean}`);
});
