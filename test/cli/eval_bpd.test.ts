/**
 * `diffuse eval --bpd`: every bad flag fails with a clear error before any work, and a tiny
 * random-weight learned_range U-Net (28x28, T = 10) on 4 MNIST test images writes a report whose
 * numbers hang together (per-image mean = the reported mean, K strata, the prior term the closed
 * form's size) and a PNG figure.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBpdArgs, runBpd } from '../../src/cli/commands/eval_bpd.js';
import { UNet2DModel, resolveConfig } from '../../src/nn/unet_2d.js';
import { writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { Generator } from '../../src/tensor/random.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { writePng } from '../../src/io/png.js';

describe('diffuse eval --bpd', () => {
  let root = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-bpd-'));
    const model = new UNet2DModel(
      resolveConfig({ sampleSize: 28, inChannels: 1, outChannels: 2, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2, downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'] }),
      { gen: new Generator(0) },
    );
    model.savePretrained(join(root, 'pipe', 'unet'));
    writeSchedulerConfig(join(root, 'pipe', 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 10, beta_start: 0.001, beta_end: 0.2, variance_type: 'learned_range' });
    // An epsilon model with C outputs for --method ode (the VP SDE of its linear schedule), on a
    // folder of two 4x4 images (the ODE solve costs tens of forward+backward passes).
    const eps = new UNet2DModel(
      resolveConfig({ sampleSize: 4, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2, downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'] }),
      { gen: new Generator(1) },
    );
    eps.savePretrained(join(root, 'eps', 'unet'));
    writeSchedulerConfig(join(root, 'eps', 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 1000 });
    for (const [k, cls] of ['a', 'b'].entries()) {
      mkdirSync(join(root, 'tiny', cls), { recursive: true });
      await writePng(join(root, 'tiny', cls, '0.png'), new Tensor(Float32Array.from({ length: 16 }, (_, i) => ((i * 37 + k * 91) % 255) / 127.5 - 1), [4, 4, 1]));
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('rejects bad flags, naming the flag and the value', () => {
    const bad: [string[], RegExp][] = [
      [['--method', 'elbo'], /--method must be one of vlb, ode, found 'elbo'/],
      [['--n', '0'], /--n must be an integer >= 1, found '0'/],
      [['--batch', 'x'], /--batch must be an integer >= 1, found 'x'/],
      [['--timesteps-per-image', '1'], /--timesteps-per-image must be an integer >= 2, found '1'/],
      [['--method', 'ode', '--timesteps-per-image', '10'], /applies to --method vlb only/],
      [['--rtol', '1e-3'], /--rtol, --atol and --estimator apply to --method ode only/],
      [['--method', 'ode', '--estimator', 'fancy'], /--estimator must be one of rademacher, gaussian, exact, found 'fancy'/],
      [['--method', 'ode', '--plot', 'a.png'], /--no-clip and --plot apply to --method vlb only/],
      [['--plot', 'a.svg'], /give a path ending in .png, found 'a.svg'/],
      [['--split', 'val'], /--split must be test or train, found 'val'/],
      [['--data', '/no/such/folder'], /--data '\/no\/such\/folder' is neither/],
      [['extra'], /unexpected argument 'extra'/],
    ];
    for (const [argv, re] of bad) assert.throws(() => parseBpdArgs(['--bpd', ...argv]), (e: unknown) => e instanceof ArgumentError && re.test(e.message), argv.join(' '));
    assert.throws(() => parseBpdArgs(['--unknown']), /unknown option '--unknown'/);
    const a = parseBpdArgs(['--bpd', '--timesteps-per-image', 'all']);
    assert.equal(a.timestepsPerImage, 'all');
    assert.equal(a.method, 'vlb');
    assert.equal(a.clip, true);
  });

  it('model and flags that do not fit fail before the evaluation', async () => {
    await assert.rejects(runBpd(['--bpd', '--model', join(root, 'pipe'), '--data', 'mnist', '--n', '2', '--timesteps-per-image', '11']), /--timesteps-per-image 11 exceeds the model's 10 timesteps/);
    await assert.rejects(runBpd(['--bpd', '--model', join(root, 'pipe'), '--data', 'mnist', '--n', '2', '--method', 'ode']), /--method ode needs a model that outputs the data's 1 channel.*outputs 2/);
    await assert.rejects(runBpd(['--bpd', '--model', join(root, 'pipe'), '--data', 'mnist', '--n', '2', '--conditional']), /--conditional needs a class-conditional model/);
  });

  it('writes a consistent report and the per-timestep figure', async () => {
    const out = join(root, 'r.json');
    const plot = join(root, 'bits.png');
    await runBpd(['--bpd', '--model', join(root, 'pipe'), '--data', 'mnist', '--n', '4', '--batch', '3', '--timesteps-per-image', '4', '--out', out, '--plot', plot]);
    const r = JSON.parse(readFileSync(out, 'utf8')) as { bpd: { mean: number; ci95: number }; perImage: number[]; strata: unknown[]; modelCalls: number; priorBpd: number; decoderBpd: number; varianceType: string };
    assert.equal(r.perImage.length, 4);
    assert.ok(Math.abs(r.perImage.reduce((s, x) => s + x, 0) / 4 - r.bpd.mean) < 1e-9);
    assert.ok(Number.isFinite(r.bpd.ci95) && r.bpd.ci95 > 0);
    assert.equal(r.strata.length, 4);
    assert.equal(r.modelCalls, 2 * 4); // 2 batches x 4 strata
    assert.equal(r.varianceType, 'learned_range');
    // A random model: the bound is positive and at least the decoder term's share.
    assert.ok(r.bpd.mean > r.decoderBpd && r.decoderBpd > 0 && r.priorBpd > 0);
    assert.ok(existsSync(plot) && readFileSync(plot).subarray(1, 4).toString() === 'PNG');
  });

  it('--method ode dispatches to the probability-flow ODE likelihood (sde/likelihood.ts)', async () => {
    const out = join(root, 'ode.json');
    await runBpd(['--bpd', '--model', join(root, 'eps'), '--data', join(root, 'tiny'), '--split', 'train', '--n', '2', '--method', 'ode', '--rtol', '0.1', '--atol', '0.1', '--out', out]);
    const r = JSON.parse(readFileSync(out, 'utf8')) as { method: string; bpd: { mean: number }; meanNfe: number; perImage: number[] };
    assert.equal(r.method, 'ode');
    assert.equal(r.perImage.length, 2);
    assert.ok(Number.isFinite(r.bpd.mean) && r.meanNfe > 0);
  });
});
