/**
 * `diffuse sample` on a tiny random-weight U-Net saved in a diffusers pipeline folder: the PNG
 * grid, per-image PNGs and the GIF decode at the expected sizes; the same seed writes the same
 * bytes whatever --batch is; bad flags and models give clear errors before any sampling.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { run } from '../../src/cli/commands/sample.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { SAMPLING_CONFIG_NAME, writeSamplingConfig } from '../../src/io/sampling_config.js';
import { packageRoot } from '../../src/io/model_folder.js';
import { DiffuseError } from '../../src/tensor/errors.js';

/** 2 classes + the null class; 8x6 images (H != W). */
const TINY: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};

describe('diffuse sample', () => {
  let root = '';
  let pipe = '';
  let bare = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-sample-'));
    pipe = join(root, 'pipe');
    new UNet2DModel(TINY).savePretrained(join(pipe, 'unet'));
    // 10 training timesteps keep full-length DDPM (the --scheduler ddpm default) fast.
    writeSchedulerConfig(join(pipe, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 10 });
    bare = join(root, 'bare');
    new UNet2DModel({ ...TINY, numClassEmbeds: null, inChannels: 3, outChannels: 3, sampleSize: 4 }).savePretrained(bare);
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const out = (name: string) => join(root, name);

  it('--scheduler pc | ode with --model=DIR run the score-SDE samplers through the one parser, as --sde-sampler does', async () => {
    await run([`--model=${pipe}`, '--scheduler', 'pc', '--steps', '2', '--n', '2', '--class', '1', '--seed', '3', '--out', out('pc_a.png')]);
    await run(['--model', pipe, '--sde-sampler', 'pc', '--steps', '2', '--n', '2', '--class', '1', '--seed', '3', '--out', out('pc_b.png')]);
    assert.deepEqual(readFileSync(out('pc_a.png')), readFileSync(out('pc_b.png')));
    await run([`--model=${pipe}`, '--scheduler=ode', '--rtol', '1e-2', '--atol', '1e-2', '--n', '1', '--out', out('ode.png')]);
    assert.ok(existsSync(out('ode.png')));
    await assert.rejects(run(['--model', pipe, '--scheduler', 'ddim', '--predictor', 'euler_maruyama', '--out', out('x.png')]), (e: Error) => e instanceof DiffuseError && /--predictor applies to the score-SDE samplers only/.test(e.message));
    await assert.rejects(run(['--model', pipe, '--scheduler', 'pc', '--sde-sampler', 'ode', '--out', out('x.png')]), (e: Error) => e instanceof DiffuseError && /disagree/.test(e.message));
  });

  it('writes a decodable PNG grid, per-image PNGs and a GIF of the expected sizes', async () => {
    await run(['--model', pipe, '--n', '3', '--steps', '3', '--guidance', '2', '--class', '1,0,1', '--seed', '1', '--out', out('grid.png'),
      '--per-image', out('each'), '--animate', out('traj.gif'), '--frames', '4', '--delay', '50']);
    // 3 tiles of 8x6, 2 per row, 2 px padding: (2 * 10 + 2) x (2 * 8 + 2).
    const grid = await sharp(out('grid.png')).metadata();
    assert.deepEqual([grid.format, grid.height, grid.width, grid.channels], ['png', 22, 18, 1]);
    assert.deepEqual(readdirSync(out('each')).sort(), ['00000_class1.png', '00001_class0.png', '00002_class1.png']);
    const one = await sharp(join(out('each'), '00001_class0.png')).metadata();
    assert.deepEqual([one.height, one.width], [8, 6]);
    // Frames: x_t grid | 4 px | x_0 grid; steps 0..3 are 4 frames; the last holds 1 s.
    const gif = await sharp(out('traj.gif'), { animated: true }).metadata();
    assert.deepEqual([gif.format, gif.pages, gif.pageHeight, gif.width, gif.loop], ['gif', 4, 22, 18 + 4 + 18, 0]);
    assert.deepEqual(gif.delay, [50, 50, 50, 1000]);
    // The last frame's x_0 half is the final grid, within a few grey levels: the palette is
    // quantised over all frames, and the noisy x_t frames claim many of its 256 entries.
    const frames = await sharp(out('traj.gif'), { animated: true }).extractChannel(0).raw().toBuffer();
    const png = await sharp(out('grid.png')).extractChannel(0).raw().toBuffer();
    let maxErr = 0;
    for (let y = 0; y < 22; y++) for (let x = 0; x < 18; x++) maxErr = Math.max(maxErr, Math.abs(frames[(3 * 22 + y) * 40 + 22 + x]! - png[y * 18 + x]!));
    assert.ok(maxErr <= 6, `max error ${maxErr}`);
  });

  it('same seed, same bytes, whatever --batch (different seeds differ: see generate.test); ddpm defaults to the full chain; an unconditional bare folder works', async () => {
    await run(['--model', pipe, '--scheduler', 'ddpm', '--n', '3', '--seed', '5', '--batch', '3', '--out', out('a.png')]);
    await run(['--model', join(pipe, 'unet'), '--scheduler', 'ddpm', '--n', '3', '--seed', '5', '--batch', '2', '--out', out('b.png')]);
    await run(['--model', pipe, '--scheduler', 'ddpm', '--steps', '10', '--n', '3', '--seed', '5', '--out', out('c.png')]);
    assert.deepEqual(readFileSync(out('a.png')), readFileSync(out('b.png')));
    assert.deepEqual(readFileSync(out('a.png')), readFileSync(out('c.png')));
    // A training run folder (RUN_DIR/model/{unet,scheduler}, as diffuse train exports it).
    cpSync(pipe, join(root, 'run', 'model'), { recursive: true });
    await run(['--model', join(root, 'run'), '--scheduler', 'ddpm', '--n', '3', '--seed', '5', '--out', out('e.png')]);
    assert.deepEqual(readFileSync(out('a.png')), readFileSync(out('e.png')));
    // No scheduler config: the DDPM defaults (1000 training timesteps), DDIM 2 steps; RGB.
    await run(['--model', bare, '--n', '2', '--steps', '2', '--nrow', '1', '--out', out('rgb.png')]);
    const m = await sharp(out('rgb.png')).metadata();
    assert.deepEqual([m.height, m.width, m.channels], [2 * 6 + 2, 6 + 2, 3]);
  });

  it("the folder's sampling_config.json sets the default guidance, scheduler and steps; flags override it; a bad file is named", async () => {
    const tuned = join(root, 'tuned');
    cpSync(pipe, tuned, { recursive: true });
    writeSamplingConfig(tuned, { guidanceScale: 2, scheduler: 'euler', numInferenceSteps: 3 });
    const common = ['--n', '2', '--seed', '4'];
    const same = (a: string, b: string) => assert.deepEqual(readFileSync(out(a)), readFileSync(out(b)), `${a} vs ${b}`);
    await run(['--model', tuned, ...common, '--out', out('tuned.png')]);
    await run(['--model', pipe, ...common, '--scheduler', 'euler', '--steps', '3', '--guidance', '2', '--out', out('explicit.png')]);
    same('tuned.png', 'explicit.png');
    // --guidance 1 overrides the file; another scheduler brings its own default steps (ddpm: all 10), not the file's 3.
    await run(['--model', tuned, ...common, '--guidance', '1', '--scheduler', 'ddpm', '--out', out('override.png')]);
    await run(['--model', pipe, ...common, '--scheduler', 'ddpm', '--steps', '10', '--out', out('plain.png')]);
    same('override.png', 'plain.png');
    assert.notDeepEqual(readFileSync(out('tuned.png')), readFileSync(out('plain.png')));
    writeFileSync(join(tuned, SAMPLING_CONFIG_NAME), JSON.stringify({ guidance_scale: 'high' }));
    await assert.rejects(run(['--model', tuned, ...common, '--out', out('bad.png')]), /sampling_config\.json: config key "guidance_scale" has value "high"; allowed: a number in \[0, 100\]/);
    writeFileSync(join(tuned, SAMPLING_CONFIG_NAME), JSON.stringify({ scheduler: 'fastest' }));
    await assert.rejects(run(['--model', tuned, ...common, '--out', out('bad.png')]), /sampling_config\.json: config key "scheduler" has value "fastest"; allowed: null or one of .*"ddim"/);
    assert.equal(existsSync(out('bad.png')), false);
  });

  it('bad input: clear errors, nothing written', async () => {
    const bad = (args: string[], re: RegExp) => assert.rejects(run(args), (e: Error) => re.test(e.message), re.source);
    const o = ['--out', out('never.png')];
    await bad(['--model', pipe], /--out FILE .* is required/);
    await bad(['--model', pipe, '--scheduler', 'nope', ...o], /--scheduler: unknown sampler 'nope'; 'diffuse samplers' lists them all/);
    await bad(['--model', pipe, '--steps', '0', ...o], /--steps must be an integer >= 1, found '0'/);
    await bad(['--model', pipe, '--n', 'many', ...o], /--n must be an integer >= 1, found 'many'/);
    await bad(['--model', pipe, '--guidance', 'strong', ...o], /--guidance must be a number in \[-100, 100\], found 'strong'/);
    await bad(['--model', pipe, '--scheduler', 'ddpm', '--eta', '1', ...o], /--eta applies to --scheduler ddim only/);
    await bad(['--model', pipe, '--class', '2', '--guidance', '3', ...o], /class label is 2, expected an integer in \[0, 1\]/);
    await bad(['--model', pipe, '--class', '0,1', '--n', '3', ...o], /2 class labels for n = 3/);
    await bad(['--model', bare, '--guidance', '3', ...o], /unconditional/);
    await bad(['--model', pipe, '--scheduler', 'ddpm', '--steps', '11', ...o], /11/);
    await bad(['--model', join(root, 'missing'), ...o], /no such folder/);
    await bad(['--model', pipe, '--bogus', ...o], /bogus/);
    await bad(['--model', pipe, 'extra', ...o], /unexpected argument 'extra'/);
    if (!existsSync(join(packageRoot(), 'models', 'fashion-mnist'))) {
      await assert.rejects(run(o), (e: Error) => e instanceof DiffuseError && /no --model given and the bundled model is missing/.test(e.message));
    }
    assert.equal(existsSync(out('never.png')), false);
  });
});
