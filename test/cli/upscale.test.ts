/** The upscale and train-classifier commands refuse bad input with clear errors before any work. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run as upscale } from '../../src/cli/commands/upscale.js';
import { run as trainClassifier } from '../../src/cli/commands/train_classifier.js';

describe('diffuse upscale / train-classifier flags', () => {
  it('upscale: a generation model is not a super-resolution model; flags are checked', async () => {
    await assert.rejects(upscale(['--model', 'models/fashion-mnist', '--image', 'low.png', '--out', 'high.png']), /models\/fashion-mnist is not a super-resolution model: found no superres.json/);
    await assert.rejects(upscale(['--image', 'low.png', '--out', 'high.png']), /--model DIR .* is required/);
    await assert.rejects(upscale(['--model', 'm', '--out', 'high.png']), /--image FILE .* is required/);
    await assert.rejects(upscale(['--model', 'm', '--eval', '--image', 'x.png']), /--eval measures on --data; drop --image and --out/);
    await assert.rejects(upscale(['--model', 'm', '--image', 'x.png', '--out', 'y.png', '--n', '5']), /--n applies to --eval only/);
    await assert.rejects(upscale(['--model', 'm', '--eval', '--scheduler', 'nope']), /--scheduler must be one of/);
  });

  it('train-classifier: required flags and values', async () => {
    await assert.rejects(trainClassifier(['--data', 'fashion-mnist']), /--out RUN_DIR is required/);
    await assert.rejects(trainClassifier(['--out', 'r']), /--data is required/);
    await assert.rejects(trainClassifier(['--data', 'nowhere', '--out', 'r']), /--data 'nowhere' is neither/);
    await assert.rejects(trainClassifier(['--data', 'fashion-mnist', '--out', 'r', '--steps', '0']), /--steps must be an integer >= 1, found '0'/);
    await assert.rejects(trainClassifier(['--data', 'fashion-mnist', '--out', 'r', '--lr', '0']), /--lr must be a number in \(0, 1\], found '0'/);
  });
});
