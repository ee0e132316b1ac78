/**
 * dpmpp_2m and dpmpp_2m_sde against diffusers' DPMSolverMultistepScheduler
 * (test/fixtures/diffusers/sampling_dpmsolver_multistep.json): DPM-Solver++(2M) is the same algorithm in
 * diffusers' variance-preserving form, x_VP = x / sqrt(1 + sigma^2). Our samplers run over
 * diffusers' own sigmas (which end at sigma_min, not 0, in diffusers 0.25.1), with the stand-in
 * model handed diffusers' timestep for each sigma and diffusers' recorded noise; the final sample,
 * mapped back to VP scale, must equal diffusers' final sample. Cases with lower_order_final in
 * effect (fewer than 15 steps), the heun solver type, 3rd order and the non-++ 'dpmsolver' are
 * other algorithms than these samplers and are the scheduler's tests.
 */
import { describe, it } from 'node:test';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { dpmpp2m, dpmpp2mSde, type Denoiser } from '../../src/samplers/index.js';
import { assertClose, nmse } from '../helpers/closeness.js';
import { readVectors } from '../helpers/vectors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface DpmCase {
  name: string;
  config: Record<string, unknown>;
  timesteps: number[];
  sigmas: number[];
  initial_sample: number[];
  steps: { i: number; t: number; noise?: number[] }[];
  final_sample: number[];
}

/** The stand-in model of the vectors' README, in float32. */
function standIn(x: Tensor, t: number): Tensor {
  const a = Math.fround(0.3 * Math.cos((t / 1000) * (Math.PI / 2)));
  return new Tensor(Float32Array.from(hostBuffer(x), (v, k) => Math.fround(Math.fround(v * a) + Math.fround(0.05 * Math.sin(k)))), x.shape);
}

const CASES = ['dpmpp_2m_20', 'dpmpp_2m_karras_20', 'dpmpp_2m_vpred_20', 'sde_dpmpp_2m_20'];

describe('dpmpp_2m / dpmpp_2m_sde vs diffusers DPMSolverMultistepScheduler', () => {
  const file = readVectors<{ cases: DpmCase[] }>('sampling_dpmsolver_multistep.json');
  for (const c of file.cases.filter((x) => CASES.includes(x.name))) {
    it(c.name, () => {
      const sigmas = c.sigmas.map(Math.fround);
      // Step i evaluates the model at sigmas[i] with diffusers' timestep timesteps[i].
      const tAt = (sigma: number): number => {
        const i = sigmas.indexOf(Math.fround(sigma));
        if (i < 0 || i >= c.timesteps.length) throw new Error(`sigma ${sigma} is not one of the case's step sigmas`);
        return c.timesteps[i]!;
      };
      const vpred = c.config['prediction_type'] === 'v_prediction';
      const D: Denoiser = (x, sigma) => {
        const cIn = 1 / Math.sqrt(sigma * sigma + 1);
        const out = standIn(new Tensor(Float32Array.from(hostBuffer(x), (v) => v * cIn), x.shape), tAt(sigma));
        return new Tensor(Float32Array.from(hostBuffer(x), (v, i) => (vpred ? v / (sigma * sigma + 1) - sigma * cIn * hostBuffer(out)[i]! : v - sigma * hostBuffer(out)[i]!)), x.shape);
      };
      const x0 = c.sigmas[0]!;
      const x = tensor(c.initial_sample.map((v) => v * Math.sqrt(1 + x0 * x0)), [2, 8, 8, 1]); // VP -> VE
      let k = 0;
      const out = c.config['algorithm_type'] === 'sde-dpmsolver++'
        ? dpmpp2mSde(D, x, c.sigmas, { eta: 1, noise: (shape) => tensor(c.steps[k++]!.noise!, shape) })
        : dpmpp2m(D, x, c.sigmas);
      const last = c.sigmas[c.sigmas.length - 1]!;
      const vp = Array.from(hostBuffer(out), (v) => v / Math.sqrt(1 + last * last)); // VE -> VP
      const scale = Math.max(1, ...c.final_sample.map(Math.abs));
      // float32 in both; measured nmse 1.3e-13 to 5.4e-13, max-abs <= 7e-7 of the scale.
      assertClose(vp, c.final_sample, { nmseTol: 1e-10, absTol: 2e-6 * scale, what: `${c.name} (nmse ${nmse(vp, c.final_sample).toExponential(2)})` });
    });
  }
});
