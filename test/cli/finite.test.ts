/**
 * No silent garbage from the command line (issue 14, failure 6): numeric sampling flags and
 * sampling_config.json's guidance_scale have documented ranges (in --help) and out-of-range values
 * (1e308 and the like) are refused naming the flag or the file and field; a model folder whose
 * weights hold NaN is refused naming the tensor, and --allow-nonfinite (on every command that loads
 * a model) loads it with a warning, after which the sampler stops at step 1 naming the cause.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { run as sample, help as sampleHelp } from '../../src/cli/commands/sample.js';
import { run as inpaint, help as inpaintHelp } from '../../src/cli/commands/inpaint.js';
import { help as img2imgHelp } from '../../src/cli/commands/img2img.js';
import { help as explainHelp } from '../../src/cli/commands/explain.js';
import { help as augmentHelp } from '../../src/cli/commands/augment.js';
import { help as upscaleHelp } from '../../src/cli/commands/upscale.js';
import { help as evalHelp } from '../../src/cli/commands/eval.js';
import { UNet2DModel, configToJSON, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { writeDiffusersFolder, writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { SAMPLING_CONFIG_NAME } from '../../src/io/sampling_config.js';
import { NonfiniteWeightsError } from '../../src/io/nonfinite.js';
import { NonfiniteSampleError } from '../../src/sampling/finite_check.js';
import { packageRoot } from '../../src/io/package_root.js';
import { DiffuseError, type Tensor } from '../../src/index.js';

const TINY: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};

describe('numeric flags and NaN weights on the command line', () => {
  let root = '';
  let pipe = '';
  let broken = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-finite-'));
    const model = new UNet2DModel(TINY);
    pipe = join(root, 'pipe');
    model.savePretrained(join(pipe, 'unet'));
    writeSchedulerConfig(join(pipe, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 10 });
    broken = join(root, 'broken');
    const state = new Map<string, Tensor | { shape: readonly number[]; data: Float32Array }>(model.stateDict());
    state.set('conv_out.bias', { shape: [1], data: Float32Array.of(NaN) });
    writeDiffusersFolder(join(broken, 'unet'), configToJSON(model.config as UNet2DConfig), state);
    writeSchedulerConfig(join(broken, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 10 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const out = (name: string) => join(root, name);
  const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: unknown) => e instanceof DiffuseError && re.test(e.message));

  it('out-of-range numeric flags are refused naming the flag and the range (9 cases)', async () => {
    const o = ['--model', pipe, '--steps', '2', '--out', out('never.png')];
    await rejects(sample([...o, '--guidance', '1e308']), /--guidance must be a number in \[-100, 100\], found '1e308'/);
    await rejects(sample([...o, '--guidance', '-1e308']), /--guidance must be a number in \[-100, 100\]/);
    await rejects(sample([...o, '--guidance', '101']), /--guidance must be a number in \[-100, 100\], found '101'/);
    await rejects(sample([...o, '--scheduler', 'ddim', '--eta', '1e308']), /--eta must be a number in \[0, 100\], found '1e308'/);
    await rejects(sample([...o, '--classifier', pipe, '--classifier-scale', '1e9']), /--classifier-scale must be a number in \[-100, 100\], found '1e9'/);
    await rejects(sample([...o, '--scheduler', 'pc', '--snr', '1e308']), /--snr must be a number in \(0, 10\], found '1e308'/);
    await rejects(sample([...o, '--scheduler', 'ode', '--rtol', '5']), /--rtol must be a number in \(0, 1\], found '5'/);
    await rejects(sample([...o, '--scheduler', 'ode', '--atol', '1e308']), /--atol must be a number in \(0, 1\]/);
    await rejects(inpaint(['--model', pipe, '--image', out('none.png'), '--box', '0,0,2,2', '--out', out('never.png'), '--guidance', '1e308']), /--guidance must be a number in \[-100, 100\]/);
    // The edges are accepted.
    await sample([...o, '--guidance', '100', '--class', '1', '--n', '1', '--out', out('g100.png')]);
    assert.ok(existsSync(out('g100.png')));
  });

  it("sampling_config.json's guidance_scale 1e308 is refused naming the file and the field", async () => {
    const tuned = join(root, 'tuned');
    new UNet2DModel(TINY).savePretrained(join(tuned, 'unet'));
    writeFileSync(join(tuned, SAMPLING_CONFIG_NAME), JSON.stringify({ guidance_scale: 1e308 }));
    await rejects(sample(['--model', tuned, '--steps', '2', '--out', out('never.png')]), new RegExp(`${SAMPLING_CONFIG_NAME.replace('.', '\\.')}: config key "guidance_scale" has value 1e\\+308; allowed: a number in \\[0, 100\\]`));
  });

  it('a model whose weights hold NaN is refused, and --allow-nonfinite loads it with a warning; the sampler then stops at step 1', async () => {
    const o = ['--model', broken, '--steps', '2', '--scheduler', 'ddim', '--out', out('nan.png')];
    await assert.rejects(sample(o), (e: unknown) => e instanceof NonfiniteWeightsError && /'conv_out\.bias' \(1 of 1 values, the first NaN at index 0\)/.test(e.message) && /--allow-nonfinite/.test(e.message));
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => warnings.push(m);
    try {
      await assert.rejects(sample([...o, '--allow-nonfinite']), (e: unknown) => e instanceof NonfiniteSampleError && /model output went NaN or Inf at step 1 of 2 \(DDIMScheduler\)/.test(e.message) && /--allow-nonfinite/.test(e.message));
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /conv_out\.bias.*loading anyway/);
    assert.equal(existsSync(out('nan.png')), false);
  });

  it('--help of every command that loads a model lists --allow-nonfinite, and the ranges', () => {
    for (const [name, help] of Object.entries({ sample: sampleHelp, inpaint: inpaintHelp, img2img: img2imgHelp, explain: explainHelp, augment: augmentHelp, upscale: upscaleHelp, eval: evalHelp })) {
      assert.match(help, /--allow-nonfinite +Load model weights that hold NaN or Inf anyway/, name);
    }
    assert.match(sampleHelp, /--guidance W +Classifier-free guidance weight, a number in \[-100, 100\]/);
    assert.match(sampleHelp, /--eta E +DDIM's eta \(0 to 1\), or a stochastic sampler's noise scale; a number in \[0,\s+100\]/);
    assert.match(sampleHelp, /--classifier-scale S\s+Its scale, a number in \[-100, 100\]/);
  });

  it('through the bin: the error is one line naming the flag, exit status 2 (a usage error), no stack', () => {
    const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'diffuse.js'), 'sample', '--guidance', '1e308', '--out', out('never.png')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "diffuse sample: --guidance must be a number in [-100, 100], found '1e308'\n");
  });
});
