/**
 * Bad inputs through the `diffuse` CLI (issue 14, failures 4 and 7), as a user would meet them:
 * each is exit code 1 and one message naming the file (or flag) and what is wrong, without a
 * stack, before any work: a truncated or fake PNG to upscale/img2img, a decompression bomb, a
 * config.json asking for 100,000 layers, a budget too small for the model (--max-memory), and an
 * image folder with a truncated file and a dangling link, which `diffuse train --skip-corrupt`
 * (the flag the error recommends) trains past.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { cliInProcess } from '../helpers/cli_in_process.js';
import { packageRoot } from '../../src/io/package_root.js';
import { bombPng } from '../helpers/bad_images.js';

const cli = cliInProcess;

/** Asserts a clean user error: exit 1 (2 for a usage error: a flag's value), the message matches, no stack trace. */
async function refuses(args: string[], re: RegExp, code = 1): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, re, args.join(' '));
  assert.ok(!/\n\s+at /.test(r.stderr), `a stack trace for a user error: ${r.stderr}`);
  return r.stderr;
}

const gray = (size: number, v: number): Promise<Buffer> =>
  sharp(Buffer.alloc(size * size, v), { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png().toBuffer();

describe('bad inputs through the CLI', () => {
  it('upscale and img2img name a truncated, fake, empty or huge input image and say what is wrong', async () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-cli-bad-'));
    try {
      const sr2 = join(packageRoot(), 'models', 'fashion-mnist-sr2');
      const out = join(d, 'out.png');
      const png = await gray(14, 128);
      writeFileSync(join(d, 'cut.png'), png.subarray(0, png.length - 20));
      writeFileSync(join(d, 'head.png'), png.subarray(0, 40));
      writeFileSync(join(d, 'text.png'), 'not an image');
      writeFileSync(join(d, 'empty.png'), '');
      writeFileSync(join(d, 'bomb.png'), bombPng(16000, 16000, 16));
      writeFileSync(join(d, 'big.png'), await gray(28, 9));
      const up = (file: string): string[] => ['upscale', '--model', sr2, '--image', join(d, file), '--out', out, '--steps', '1'];
      await refuses(up('cut.png'), new RegExp(`--image ${join(d, 'cut.png')}: cannot be decoded: its pixel data is truncated or corrupt \\(pngload: end of stream\\)`));
      await refuses(up('head.png'), /--image .*head\.png: cannot be decoded: its header is truncated or corrupt/);
      await refuses(up('text.png'), /--image .*text\.png: is not a PNG or JPEG image/);
      await refuses(up('empty.png'), /--image .*empty\.png: is empty \(0 bytes\)/);
      await refuses(up('missing.png'), /--image .*missing\.png: no such file/);
      await refuses(up('big.png'), /'image' is 28x28 pixels, but the model takes 14x14 \(its sample_size 28x28 divided by its scale 2\); resize or crop --image .*big\.png to 14x14/);
      // The bomb: refused from its header, before a pixel is decoded (it used to cost 3 GiB).
      const rss0 = process.memoryUsage().rss;
      await refuses(['img2img', '--image', join(d, 'bomb.png'), '--strength', '0.5', '--out', out], /--image .*bomb\.png: its header claims 16000x16000 pixels \(256\.0 megapixels\), more than the limit/);
      await refuses(['img2img', '--image', join(d, 'cut.png'), '--strength', '0.5', '--out', out], /'image' is 14x14 pixels, but the model takes 28x28 \(its sample_size\); resize or crop --image .*cut\.png to 28x28/);
      assert.ok(process.memoryUsage().rss - rss0 < 200 * 2 ** 20);
      assert.equal(existsSync(out), false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a config.json over the bounds or a model over --max-memory is refused naming the file, the estimate and the fix', async () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-cli-mem-'));
    try {
      const fm = join(packageRoot(), 'models', 'fashion-mnist', 'unet');
      const unet = join(d, 'unet');
      mkdirSync(unet);
      const config = JSON.parse(readFileSync(join(fm, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(unet, 'config.json'), JSON.stringify({ ...config, layers_per_block: 100000 }));
      copyFileSync(join(fm, 'diffusion_pytorch_model.safetensors'), join(unet, 'diffusion_pytorch_model.safetensors'));
      const out = join(d, 'out.png');
      await refuses(['sample', '--model', unet, '--out', out], new RegExp(`${unet}/config.json: UNet2DModel config: field 'layers_per_block' \\(layersPerBlock\\) is 100000; expected an integer in \\[1, 64\\]`));
      await refuses(['sample', '--out', out, '--n', '4', '--steps', '1', '--max-memory', '1M'], /the U-Net's parameters would need about 6\.20 MiB of memory \(1\.62M parameters x 4 bytes = 6\.20 MiB\), more than 1\.00 MiB \(the budget set by --max-memory\); use a smaller config .*, or raise the budget with --max-memory SIZE/);
      // The bundled model samples with guidance: each pass holds both halves, 2 x 64.
      await refuses(['sample', '--out', out, '--n', '64', '--batch', '64', '--steps', '1', '--max-memory', '16M'], /generate: 64 image\(s\) of 28x28 would need about .* inference activations of a batch of 128 at 28x28 .* more than 16\.0 MiB .*; use a smaller --batch/);
      await refuses(['sample', '--out', out, '--max-memory', '8Q'], /--max-memory must be a size such as 8G, 512M, 1\.5GiB or a number of bytes, found '8Q'/, 2);
      await refuses(['img2img', '--image', join(d, 'none.png'), '--strength', '1', '--out', out, '--max-memory', '0'], /--max-memory must be a size/, 2);
      // train: the --config file is named; the budget is checked before the run folder is written.
      writeFileSync(join(d, 'bad.json'), JSON.stringify({ ...config, sample_size: [65536, 65536] }));
      await refuses(['train', '--data', 'mnist', '--out', join(d, 'run'), '--config', join(d, 'bad.json')], /--config .*bad\.json: UNet2DModel config: field 'sample_size' \(sampleSize\) is \[65536,65536\]/, 2);
      await refuses(['train', '--data', 'mnist', '--out', join(d, 'run'), '--max-memory', '100M'], /train: the U-Net with batches of 128 at 28x28 would need about [\d.]+ GiB of memory \([\d.]+M parameters x 4 bytes x 5 \(weights, gradients, 2 AdamW moments, EMA\) = .* training activations of a batch of 128 at 28x28 = .*\), more than 100 MiB \(the budget set by --max-memory\); use a smaller --batch or a smaller U-Net config/);
      assert.equal(existsSync(join(d, 'run')), false, 'nothing written');
      const help = (await import('../../src/cli/commands/train.js')).help;
      assert.match(help, /--max-memory SIZE/);
      assert.match(help, /--skip-corrupt/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('train on an image folder with a truncated image and a dangling link: the error recommends --skip-corrupt, and --skip-corrupt trains past them', async () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-cli-skip-'));
    try {
      const data = join(d, 'data');
      mkdirSync(data);
      for (let i = 0; i < 4; i++) writeFileSync(join(data, `${i}.png`), await gray(8, 40 * i));
      const whole = readFileSync(join(data, '0.png'));
      writeFileSync(join(data, 'cut.png'), whole.subarray(0, whole.length - 20));
      symlinkSync(join(data, 'deleted.png'), join(data, 'link.png'));
      const config = join(d, 'unet.json');
      writeFileSync(config, JSON.stringify({ sample_size: 8, in_channels: 1, out_channels: 1, block_out_channels: [8, 16], down_block_types: ['DownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'UpBlock2D'], layers_per_block: 1, norm_num_groups: 4, add_attention: false }));
      const args = ['train', '--data', data, '--out', join(d, 'run'), '--config', config, '--steps', '1', '--batch', '2', '--warmup', '0'];
      // The link is found when the folder is listed, the truncated file when it is decoded.
      await refuses(args, new RegExp(`image ${join(data, 'link.png')} is a symbolic link to a file that does not exist \\(a dangling link\\) \\(fix or remove it, or pass --skip-corrupt \\(skipCorrupt: true\\) to leave such files out\\)`));
      rmSync(join(d, 'run'), { recursive: true, force: true });
      rmSync(join(data, 'link.png'));
      await refuses(args, new RegExp(`image ${join(data, 'cut.png')} cannot be decoded: its pixel data is truncated or corrupt .*\\(fix or remove it, or pass --skip-corrupt \\(skipCorrupt: true\\) to leave such files out\\)`));
      rmSync(join(d, 'run'), { recursive: true, force: true });
      symlinkSync(join(data, 'deleted.png'), join(data, 'link.png'));
      const r = await cli([...args, '--skip-corrupt']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`skipping image ${join(data, 'cut.png')} cannot be decoded`));
      assert.match(r.stderr, new RegExp(`skipping image ${join(data, 'link.png')} is a symbolic link to a file that does not exist`));
      assert.ok(existsSync(join(d, 'run', 'model', 'unet', 'config.json')));
      // The choice is the run's: saved, so --resume loads the same images.
      assert.equal((JSON.parse(readFileSync(join(d, 'run', 'train_config.json'), 'utf8')) as { skipCorrupt: boolean }).skipCorrupt, true);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
