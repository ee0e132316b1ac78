/**
 * The SDE flags of `diffuse sample` and `diffuse inpaint --method sde-pc`: which arguments go to
 * the SDE samplers, and every bad flag named before any model is loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSdeSample, wantsSdeSampler } from '../../src/cli/commands/sample_sde.js';
import { runSdeInpaint } from '../../src/cli/commands/inpaint_sde.js';
import { DiffuseError } from '../../src/tensor/errors.js';

test('sample: --sde-sampler routes to the SDE samplers; --scheduler keeps a DDPM model on the schedulers', () => {
  assert.equal(wantsSdeSampler(['--sde-sampler', 'ode', '--out', 'x.png']), true);
  assert.equal(wantsSdeSampler(['--sde-sampler=pc']), true);
  assert.equal(wantsSdeSampler(['--scheduler', 'ddim', '--out', 'x.png']), false);
  // The bundled model is a DDPM model: plain `diffuse sample` stays on DDIM.
  assert.equal(wantsSdeSampler(['--out', 'x.png']), false);
});

test('sample --sde-sampler: bad flags are named before the model loads', async () => {
  const bad: [string[], RegExp][] = [
    [['--sde-sampler', 'rk4', '--out', 'x.png'], /--sde-sampler must be one of pc, ode/],
    [['--sde-sampler', 'pc', '--rtol', '1e-3', '--out', 'x.png'], /--rtol applies to --sde-sampler ode only/],
    [['--sde-sampler', 'ode', '--predictor', 'ancestral', '--out', 'x.png'], /--predictor applies to --sde-sampler pc only/],
    [['--sde-sampler', 'pc', '--corrector', 'hmc', '--out', 'x.png'], /--corrector must be one of langevin, ald, none/],
    [['--sde-sampler', 'pc', '--snr', '0', '--out', 'x.png'], /--snr must be a number in \(0, 10\]/],
    [['--sde-sampler', 'ode', '--eps', '2', '--out', 'x.png'], /--eps must be below 1/],
    [['--sde-sampler', 'pc'], /--out FILE/],
    [['--sde-sampler', 'pc', '--sde', 'cld', '--out', 'x.png'], /--sde must be one of vp, subvp, ve/],
  ];
  for (const [argv, re] of bad) await assert.rejects(runSdeSample(argv), (e: Error) => e instanceof DiffuseError && re.test(e.message), argv.join(' '));
});

test('inpaint --method sde-pc: bad flags are named before the image or model is read', async () => {
  await assert.rejects(runSdeInpaint(['--method', 'sde-pc', '--image', 'a.png', '--out', 'o.png']), /exactly one of --mask/);
  await assert.rejects(runSdeInpaint(['--method', 'sde-pc', '--image', 'a.png', '--box', '1,2,3', '--out', 'o.png', '--predictor', 'heun']), /--predictor must be one of/);
  await assert.rejects(runSdeInpaint(['--method', 'sde-pc', '--box', '0,0,2,2', '--out', 'o.png']), /--image FILE/);
});
