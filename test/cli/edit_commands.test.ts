/**
 * `diffuse inpaint | img2img | augment | explain` on a tiny random U-Net in a pipeline folder: the
 * files they write decode at the expected sizes, inpaint keeps the known pixels of the PNG exactly,
 * augment --regenerate rewrites an image's exact bytes, and bad flags or inputs are clear errors
 * before any output is written.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { run as inpaintRun } from '../../src/cli/commands/inpaint.js';
import { run as img2imgRun } from '../../src/cli/commands/img2img.js';
import { run as augmentRun } from '../../src/cli/commands/augment.js';
import { run as explainRun } from '../../src/cli/commands/explain.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { writePng } from '../../src/io/png.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { useBackend } from '../../src/backend/backend.js';

useBackend('reference');
/** 2 classes + the null class; 8x8 grayscale. */
const TINY: Partial<UNet2DConfig> = {
  sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], numClassEmbeds: 3,
};

describe('diffuse inpaint, img2img, augment, explain', () => {
  let root = '';
  let pipe = '';
  let bare = '';
  const f = (name: string) => join(root, name);
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-edit-cli-'));
    pipe = join(root, 'pipe');
    new UNet2DModel(TINY).savePretrained(join(pipe, 'unet'));
    writeSchedulerConfig(join(pipe, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 20 });
    bare = join(root, 'bare');
    new UNet2DModel({ ...TINY, numClassEmbeds: null }).savePretrained(join(bare, 'unet'));
    writeSchedulerConfig(join(bare, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 20 });
    await writePng(f('in.png'), new Tensor(Float32Array.from({ length: 64 }, (_, i) => (i % 9) / 4 - 1), [8, 8, 1]));
    await writePng(f('rgb.png'), new Tensor(new Float32Array(192).fill(0.5), [8, 8, 3]));
    await writePng(f('big.png'), new Tensor(new Float32Array(256), [16, 16, 1]));
    // White on the left half, black on the right: repaint the left half (diffusers' convention).
    await writePng(f('mask.png'), new Tensor(Float32Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 1 : -1)), [8, 8, 1]));
    await writePng(f('mask6.png'), new Tensor(new Float32Array(36).fill(1), [6, 6, 1]));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const raw = async (path: string) => sharp(path).extractChannel(0).raw().toBuffer();

  it('inpaint: --box and --mask keep the known pixels of the PNG exactly; --compare writes the figure', async () => {
    await inpaintRun(['--model', pipe, '--image', f('in.png'), '--box', '2,2,4,3', '--out', f('box.png'), '--steps', '3', '--class', '1', '--guidance', '2', '--compare', f('cmp.png')]);
    const input = await raw(f('in.png'));
    const out = await raw(f('box.png'));
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) if (!(x >= 2 && x < 6 && y >= 2 && y < 5)) assert.equal(out[y * 8 + x], input[y * 8 + x], `(${x}, ${y})`);
    assert.equal((await sharp(f('cmp.png')).metadata()).format, 'png');
    await inpaintRun(['--model', pipe, '--image', f('in.png'), '--mask', f('mask.png'), '--out', f('mask_out.png'), '--method', 'repaint', '--steps', '4', '--jump-length', '2', '--jump-n-sample', '2', '--n', '2']);
    const grid = await sharp(f('mask_out.png')).metadata();
    assert.deepEqual([grid.width, grid.height], [2 * 10 + 2, 10 + 2]); // 2 tiles, 2 px padding
  });

  it('inpaint --mask: white = repaint by default with a note naming the old convention; --mask-convention keep reads white = keep; --invert-mask is the default now', async () => {
    const input = await raw(f('in.png'));
    const capture = async (args: string[], out: string): Promise<{ out: Buffer; stderr: string }> => {
      let stderr = '';
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
      try {
        await inpaintRun(['--model', pipe, '--image', f('in.png'), '--mask', f('mask.png'), '--out', f(out), '--steps', '2', '--seed', '3', ...args]);
      } finally {
        process.stderr.write = write;
      }
      return { out: await raw(f(out)), stderr };
    };
    const run = (extra: string[], out: string) => capture(['--scheduler', 'euler', ...extra], out);
    const def = await run([], 'def.png');
    for (let i = 0; i < 64; i++) if (i % 8 >= 4) assert.equal(def.out[i], input[i], `the black right half is kept (${i})`);
    assert.ok(Array.from({ length: 64 }, (_, i) => i).some((i) => i % 8 < 4 && def.out[i] !== input[i]), 'the white left half is generated');
    assert.match(def.stderr, /--mask .*mask\.png: white = repaint \(32 of 64 pixels generated\).*pass --mask-convention keep/);
    const explicit = await run(['--mask-convention', 'repaint'], 'rep.png');
    assert.deepEqual(explicit.out, def.out);
    assert.doesNotMatch(explicit.stderr, /note:/);
    const keep = await run(['--mask-convention', 'keep'], 'keep.png');
    for (let i = 0; i < 64; i++) if (i % 8 < 4) assert.equal(keep.out[i], input[i], `old convention: the white left half is kept (${i})`);
    assert.doesNotMatch(keep.stderr, /note:/);
    // --invert-mask selected white = repaint before 0.1.0: the same result now, with a note.
    const inv = await run(['--invert-mask'], 'inv.png');
    assert.deepEqual(inv.out, def.out);
    assert.match(inv.stderr, /--invert-mask is deprecated: white = repaint is the default/);
    // The SDE method reads the same convention.
    const sdeDef = await capture(['--method', 'sde-pc'], 'sde.png');
    for (let i = 0; i < 64; i++) if (i % 8 >= 4) assert.equal(sdeDef.out[i], input[i], `sde-pc: the black right half is kept (${i})`);
    assert.match(sdeDef.stderr, /white = repaint \(32 of 64 pixels generated\)/);
    const sdeKeep = await capture(['--method', 'sde-pc', '--mask-convention', 'keep'], 'sdek.png');
    for (let i = 0; i < 64; i++) if (i % 8 < 4) assert.equal(sdeKeep.out[i], input[i], `sde-pc, old convention: the white left half is kept (${i})`);
  });

  it('img2img: one image per strength; strength 0 writes the input back', async () => {
    await img2imgRun(['--model', pipe, '--image', f('in.png'), '--strength', '0', '--steps', '4', '--out', f('s0.png')]);
    assert.deepEqual(await raw(f('s0.png')), await raw(f('in.png')));
    await img2imgRun(['--model', pipe, '--image', f('in.png'), '--strength', '0.5,1', '--n', '2', '--steps', '4', '--scheduler', 'dpmpp_2m', '--out', f('s.png'), '--compare', f('scmp.png')]);
    const m = await sharp(f('s.png')).metadata();
    assert.deepEqual([m.width, m.height], [2 * 10 + 2, 2 * 10 + 2]);
    assert.ok(existsSync(f('scmp.png')));
  });

  it('augment writes the class folders and manifest; --regenerate rewrites an image bit-identically', async () => {
    const dir = f('aug');
    await augmentRun(['--model', pipe, '--per-class', '2', '--out', dir, '--bit-depth', '16', '--steps', '2', '--batch', '3', '--seed', '4']);
    assert.deepEqual(readdirSync(dir).sort(), ['0', '1', 'manifest.json']);
    assert.deepEqual(readdirSync(join(dir, '1')), ['00002.png', '00003.png']);
    assert.equal((await sharp(join(dir, '1', '00003.png')).metadata()).depth, 'ushort');
    await augmentRun(['--regenerate', join(dir, 'manifest.json'), '--index', '3', '--out', f('regen.png')]);
    assert.ok(readFileSync(f('regen.png')).equals(readFileSync(join(dir, '1', '00003.png'))));
  });

  it('explain writes the forward, trajectory and animation figures', async () => {
    const dir = f('explain');
    await explainRun(['--model', pipe, '--image', f('in.png'), '--t', '0,5,19', '--no-loss', '--steps', '3', '--frames', '3', '--class', '0', '--out', dir]);
    assert.deepEqual(readdirSync(dir).sort(), ['forward.png', 'trajectory.gif', 'trajectory.png']);
    assert.equal((await sharp(join(dir, 'trajectory.gif'), { animated: true }).metadata()).pages, 3);
  });

  it('bad flags and inputs: clear errors before anything is written', async () => {
    const bad = (run: (a: string[]) => Promise<void>, args: string[], re: RegExp) => assert.rejects(run(args), (e: Error) => re.test(e.message), re.source);
    const never = f('never.png');
    const base = ['--model', pipe, '--image', f('in.png'), '--out', never];
    await bad(inpaintRun, [...base, '--mask', f('mask6.png')], /'mask' is 6x6 pixels .* but the image is 8x8/);
    await bad(inpaintRun, [...base, '--box', '6,0,4,2'], /box x 6, y 0, w 4, h 2 reaches column 9 .*outside the 8x8 image/);
    await bad(inpaintRun, [...base, '--box', '1,2,3'], /--box must be x,y,w,h/);
    await bad(inpaintRun, [...base], /exactly one of --mask FILE .* or --box/);
    await bad(inpaintRun, [...base, '--box', '0,0,2,2', '--mask-convention', 'keep'], /--mask-convention applies to --mask only/);
    await bad(inpaintRun, [...base, '--mask', f('mask.png'), '--invert-mask', '--mask-convention', 'keep'], /--invert-mask \(white = repaint\) contradicts --mask-convention keep/);
    await bad(inpaintRun, [...base, '--mask', f('mask.png'), '--mask-convention', 'white'], /mask.convention/);
    await bad(inpaintRun, ['--model', pipe, '--image', f('rgb.png'), '--out', never, '--box', '0,0,2,2'], /'image' has 3 channels \(RGB\).*model takes 1 \(grayscale\)/);
    await bad(inpaintRun, ['--model', pipe, '--image', f('big.png'), '--out', never, '--box', '0,0,2,2'], /'image' is 16x16 pixels, but the model takes 8x8/);
    await bad(inpaintRun, [...base, '--box', '0,0,2,2', '--class', '3'], /class label is 3, expected an integer in \[0, 2\]/);
    await bad(inpaintRun, ['--model', bare, '--image', f('in.png'), '--out', never, '--box', '0,0,2,2', '--guidance', '2'], /guidanceScale 2 needs a class-conditional model/);
    await bad(inpaintRun, [...base, '--box', '0,0,2,2', '--jump-length', '3'], /--jump-length and --jump-n-sample apply to --method repaint only/);
    await bad(inpaintRun, [...base, '--box', '0,0,2,2', '--method', 'repaint', '--scheduler', 'euler'], /RePaint runs on DDPM steps/);
    await bad(img2imgRun, [...base, '--strength', '1.5'], /--strength must be in \[0, 1\].*found '1.5'/);
    await bad(img2imgRun, [...base], /--strength S .* is required/);
    await bad(img2imgRun, [...base, '--strength', '0.5', '--scheduler', 'nope'], /--scheduler: unknown sampler 'nope'; 'diffuse samplers' lists them all/);
    await bad(augmentRun, ['--model', pipe, '--per-class', '1', '--out', f('aug2'), '--bit-depth', '12'], /--bit-depth must be 8 or 16/);
    await bad(augmentRun, ['--model', pipe, '--per-class', '1', '--out', f('aug2'), '--classes', '5'], /class label 0 is 5, expected an integer in \[0, 2\]/);
    await bad(augmentRun, ['--model', pipe, '--out', f('aug2')], /--per-class N .* is required/);
    await bad(augmentRun, ['--regenerate', join(f('aug'), 'manifest.json'), '--out', never], /--regenerate needs --index/);
    await bad(explainRun, ['--model', pipe, '--out', f('ex2'), '--image', f('in.png'), '--no-loss', '--t', '20'], /--t 20 is outside the model's schedule: timesteps are 0..19/);
    await bad(explainRun, ['--model', pipe, '--out', f('ex2'), '--image', f('in.png')], /does not record its training data; pass --data/);
    assert.equal(existsSync(never), false);
    assert.equal(existsSync(f('aug2')), false);
    assert.equal(existsSync(f('ex2')), false);
  });
});
