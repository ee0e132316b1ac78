/** The upscale and train-classifier commands refuse bad input with clear errors before any work. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run as upscale } from '../../src/cli/commands/upscale.js';
import { run as trainClassifier } from '../../src/cli/commands/train_classifier.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/io/package_root.js';
import { FeatureNet } from '../../src/eval/feature_net.js';
import { fashionMnist } from '../../src/data/index.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** Runs upscale with stdout silenced (it prints the JSON). */
async function quiet(argv: string[]): Promise<void> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await upscale(argv);
  } finally {
    process.stdout.write = write;
  }
}

describe('diffuse upscale / train-classifier flags', () => {
  it('upscale: a generation model is not a super-resolution model; flags are checked', async () => {
    await assert.rejects(upscale(['--model', 'models/fashion-mnist', '--image', 'low.png', '--out', 'high.png']), /models\/fashion-mnist is not a super-resolution model: found no superres.json/);
    await assert.rejects(upscale(['--image', 'low.png', '--out', 'high.png']), /--model DIR .* is required/);
    await assert.rejects(upscale(['--model', 'm', '--out', 'high.png']), /--image FILE .* is required/);
    await assert.rejects(upscale(['--model', 'm', '--eval', '--image', 'x.png']), /--eval measures on --data; drop --image and --out/);
    await assert.rejects(upscale(['--model', 'm', '--image', 'x.png', '--out', 'y.png', '--n', '5']), /--n applies to --eval only/);
    await assert.rejects(upscale(['--model', 'm', '--eval', '--scheduler', 'nope']), /--scheduler: unknown sampler 'nope'; 'diffuse samplers' lists them all/);
    await assert.rejects(upscale(['--model', 'm', '--image', 'x.png', '--out', 'y.png', '--feature-net', 'fn']), /--featureNet applies to --eval only|--feature-net applies to --eval only/);
  });

  it('upscale --eval on fashion-mnist adds the flip-free judge: accuracies on the originals, bicubic and SR3 images, and FD beside a real floor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-upscale-'));
    try {
      const model = join(packageRoot(), 'models', 'fashion-mnist-sr2');
      await quiet(['--model', model, '--eval', '--n', '4', '--steps', '2', '--json', join(dir, 'e.json')]);
      const e = JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8')) as { judge: { accuracy: Record<string, number>; frechetToOriginals: Record<string, number> } };
      // The oracle: the shipped net on the same 4 originals (evenly spaced over the test split).
      const net = FeatureNet.fromPretrained(join(packageRoot(), 'models', 'feature-nets', 'fashion-mnist'));
      const test = fashionMnist('test');
      const idx = [0, 1, 2, 3].map((i) => i * Math.floor(test.length / 4));
      const images = new Tensor(Float32Array.from(idx.flatMap((i) => Array.from(test.get(i).image))), [4, 28, 28, 1]);
      const { predictions } = net.embed(images);
      const right = idx.filter((i, k) => predictions[k] === test.get(i).label).length;
      assert.equal(e.judge.accuracy['original'], right / 4);
      for (const k of ['bicubic', 'sr3']) assert.ok(e.judge.accuracy[k]! >= 0 && e.judge.accuracy[k]! <= 1);
      for (const k of ['bicubic', 'sr3', 'realTrainFloor']) assert.ok(Number.isFinite(e.judge.frechetToOriginals[k]) && e.judge.frechetToOriginals[k]! >= 0, k);
      // One image: no Gaussian to fit, the accuracies alone.
      await quiet(['--model', model, '--eval', '--n', '1', '--steps', '2', '--json', join(dir, 'one.json')]);
      const one = JSON.parse(readFileSync(join(dir, 'one.json'), 'utf8')) as { judge: Record<string, unknown> };
      assert.deepEqual(Object.keys(one.judge).sort(), ['accuracy', 'featureNet']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('train-classifier: required flags and values', async () => {
    await assert.rejects(trainClassifier(['--data', 'fashion-mnist']), /--out RUN_DIR is required/);
    await assert.rejects(trainClassifier(['--out', 'r']), /--data is required/);
    await assert.rejects(trainClassifier(['--data', 'nowhere', '--out', 'r']), /--data 'nowhere' is neither/);
    await assert.rejects(trainClassifier(['--data', 'fashion-mnist', '--out', 'r', '--steps', '0']), /--steps must be an integer >= 1, found '0'/);
    await assert.rejects(trainClassifier(['--data', 'fashion-mnist', '--out', 'r', '--lr', '0']), /--lr must be a number in \(0, 1\], found '0'/);
  });
});
